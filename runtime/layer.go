package runtime

import (
	"bytes"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasmbox/wasmbox/fsimage"
)

// WriteLayer writes what was changed in o as an fsimage layer: new and
// changed entries, whiteouts for deleted ones, opaque directories for
// directories that replaced deleted ones. When clamp is not zero,
// modification times after it are set to it (SOURCE_DATE_EPOCH). It
// returns the number of entries written; 0 means nothing changed.
func (o *overlay) WriteLayer(w io.Writer, clamp time.Time) (int, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	type item struct {
		path string
		n    *node
	}
	var items []item
	var walk func(p string, n *node)
	walk = func(p string, n *node) {
		items = append(items, item{p, n})
		for name, c := range n.children {
			walk(joinRel(p, name), c)
		}
	}
	walk(".", o.root)
	if len(items) == 1 && len(o.root.children) == 0 {
		return 0, nil
	}
	sort.Slice(items, func(i, j int) bool { return items[i].path < items[j].path })
	fw := fsimage.NewWriter()
	firstName := map[*node]string{}
	for _, it := range items {
		n := it.n
		e := fsimage.Entry{
			Path:    it.path,
			Mode:    n.mode,
			UID:     n.uid,
			GID:     n.gid,
			ModTime: time.Unix(0, n.mtime).UTC(),
		}
		if !clamp.IsZero() && e.ModTime.After(clamp) {
			e.ModTime = clamp.UTC()
		}
		var err error
		switch n.typ {
		case fsimage.TypeWhiteout:
			e.Type, e.Mode, e.ModTime = fsimage.TypeWhiteout, 0, time.Unix(0, 0).UTC()
			err = fw.Add(e, nil)
		case fsimage.TypeDir:
			e.Type, e.Opaque = fsimage.TypeDir, n.opaque && it.path != "."
			err = fw.Add(e, nil)
		case fsimage.TypeSymlink:
			e.Type, e.Linkname = fsimage.TypeSymlink, n.target
			err = fw.Add(e, nil)
		case fsimage.TypeReg:
			if first, ok := firstName[n]; ok {
				e.Type, e.Linkname = fsimage.TypeHardlink, first
				err = fw.Add(e, nil)
				break
			}
			firstName[n] = it.path
			e.Type, e.Size = fsimage.TypeReg, n.data.size
			// Read as the layer is written: the data is not copied whole.
			data := &n.data
			err = fw.Add(e, func() (io.ReadCloser, error) { return io.NopCloser(data.reader()), nil })
		}
		if err != nil {
			return 0, err
		}
	}
	if _, err := fw.WriteTo(w); err != nil {
		return 0, err
	}
	return len(items), nil
}

// MkdirAll makes directory p of the box and its missing parents, like
// os.MkdirAll, following symlinks.
func (o *overlay) MkdirAll(p string, perm fs.FileMode) error {
	cur := "."
	for _, part := range splitPath(p) {
		cur = joinRel(cur, part)
		st, errno := o.Stat(cur)
		if errno == 0 {
			if !st.Mode.IsDir() {
				return &fs.PathError{Op: "mkdir", Path: "/" + cur, Err: experimentalsys.ENOTDIR}
			}
			continue
		}
		if errno != experimentalsys.ENOENT {
			return &fs.PathError{Op: "mkdir", Path: "/" + cur, Err: errno}
		}
		if errno := o.Mkdir(cur, perm); errno != 0 {
			return &fs.PathError{Op: "mkdir", Path: "/" + cur, Err: errno}
		}
	}
	return nil
}

// WriteFile creates or replaces the regular file p of the box with data,
// mode perm and owner uid:gid, following symlinks of its directories.
func (o *overlay) WriteFile(p string, data []byte, perm fs.FileMode, uid, gid uint32, mtime time.Time) error {
	p = strings.TrimPrefix(p, "/")
	f, errno := o.OpenFile(p, experimentalsys.O_WRONLY|experimentalsys.O_CREAT|experimentalsys.O_TRUNC, perm)
	if errno != 0 {
		return &fs.PathError{Op: "write", Path: "/" + p, Err: errno}
	}
	defer f.Close()
	if _, errno := f.Write(data); errno != 0 {
		return &fs.PathError{Op: "write", Path: "/" + p, Err: errno}
	}
	if errno := o.Chmod(p, perm); errno != 0 {
		return &fs.PathError{Op: "chmod", Path: "/" + p, Err: errno}
	}
	if errno := o.Lchown(p, uid, gid); errno != 0 {
		return &fs.PathError{Op: "chown", Path: "/" + p, Err: errno}
	}
	if !mtime.IsZero() {
		if errno := o.Utimens(p, mtime.UnixNano(), mtime.UnixNano()); errno != 0 {
			return &fs.PathError{Op: "utimes", Path: "/" + p, Err: errno}
		}
	}
	return nil
}

// ReadFile returns the contents of the box file p, following symlinks.
func (o *overlay) ReadFile(p string) ([]byte, error) {
	p = strings.TrimPrefix(p, "/")
	f, errno := o.OpenFile(p, experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		return nil, &fs.PathError{Op: "open", Path: "/" + p, Err: errno}
	}
	defer f.Close()
	var buf bytes.Buffer
	b := make([]byte, 32<<10)
	for {
		n, errno := f.Read(b)
		if errno != 0 {
			return nil, &fs.PathError{Op: "read", Path: "/" + p, Err: errno}
		}
		if n == 0 {
			return buf.Bytes(), nil
		}
		buf.Write(b[:n])
	}
}
