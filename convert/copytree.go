package convert

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/engine"
)

// treeSource is the file system of a stage: COPY lists its tree
// directly, so a walk down it does not resolve every name from the root
// again (which made COPY --from of a deep tree cubic in its depth).
type treeSource struct {
	fsimage.FileSystem
	tree fsimage.Tree
}

// boxWriter writes what COPY copies into the box, with the owner and
// mode it asks for.
type boxWriter struct {
	ov  engine.FS
	own copyOwner
}

func (w boxWriter) pathErr(op, target string, errno experimentalsys.Errno) error {
	return &fs.PathError{Op: op, Path: target, Err: errno}
}

// dir makes the directory target, whose parent exists (top: its parents
// are made too).
func (w boxWriter) dir(target string, mode fs.FileMode, top bool) error {
	boxPath := strings.TrimPrefix(target, "/")
	if top {
		if err := w.ov.MkdirAll(target, 0o755); err != nil {
			return err
		}
	} else if errno := w.ov.Mkdir(boxPath, 0o755); errno == experimentalsys.EEXIST {
		if st, errno := w.ov.Stat(boxPath); errno != 0 || !st.Mode.IsDir() {
			return w.pathErr("mkdir", target, experimentalsys.ENOTDIR)
		}
	} else if errno != 0 {
		return w.pathErr("mkdir", target, errno)
	}
	if errno := w.ov.Chmod(boxPath, w.own.modeOr(mode)); errno != 0 {
		return w.pathErr("chmod", target, errno)
	}
	if errno := w.ov.Lchown(boxPath, w.own.uid, w.own.gid); errno != 0 {
		return w.pathErr("chown", target, errno)
	}
	return nil
}

// link makes target a symlink to linkname, replacing what was there.
func (w boxWriter) link(target, linkname string) error {
	boxPath := strings.TrimPrefix(target, "/")
	w.ov.Unlink(boxPath)
	if errno := w.ov.Symlink(linkname, boxPath); errno != 0 {
		return w.pathErr("symlink", target, errno)
	}
	if errno := w.ov.Lchown(boxPath, w.own.uid, w.own.gid); errno != 0 {
		return w.pathErr("chown", target, errno)
	}
	return nil
}

// file writes what r reads to the file target, in pieces: a file is
// never held whole in memory twice.
func (w boxWriter) file(target string, r io.Reader, mode fs.FileMode, mtime time.Time) error {
	boxPath := strings.TrimPrefix(target, "/")
	f, errno := w.ov.OpenFile(boxPath, experimentalsys.O_WRONLY|experimentalsys.O_CREAT|experimentalsys.O_TRUNC, 0o600)
	if errno != 0 {
		return w.pathErr("write", target, errno)
	}
	buf := make([]byte, 64<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, errno := f.Write(buf[:n]); errno != 0 {
				f.Close()
				return w.pathErr("write", target, errno)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Close()
			return rerr
		}
	}
	f.Close()
	if errno := w.ov.Chmod(boxPath, w.own.modeOr(mode)); errno != 0 {
		return w.pathErr("chmod", target, errno)
	}
	if errno := w.ov.Lchown(boxPath, w.own.uid, w.own.gid); errno != 0 {
		return w.pathErr("chown", target, errno)
	}
	if !mtime.IsZero() {
		if errno := w.ov.Utimens(boxPath, mtime.UnixNano(), mtime.UnixNano()); errno != 0 {
			return w.pathErr("utimes", target, errno)
		}
	}
	return nil
}

// modeOr is the mode --chmod asks for, else the source's permissions.
func (own copyOwner) modeOr(m fs.FileMode) fs.FileMode {
	if own.mode != 0 {
		return own.mode
	}
	return modeBits(m)
}

func copyFile(ov engine.FS, src copySource, p, dst string, fi fs.FileInfo, own copyOwner) error {
	f, err := src.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := ov.MkdirAll(path.Dir(dst), 0o755); err != nil {
		return err
	}
	return boxWriter{ov, own}.file(dst, f, fi.Mode(), fi.ModTime())
}

// srcVisit is an entry met walking a source: its name in the source,
// its info, and its target (a symlink) or a way to read it (a regular
// file).
type srcVisit struct {
	name string
	fi   fs.FileInfo
	link string
	open func() (io.ReadCloser, error)
}

// walkSource visits p of src and, for a directory, everything below it,
// parents first. A stage's tree is listed directly: every entry is one
// step, whatever its depth. ctx ends the walk between two entries.
func walkSource(ctx context.Context, src copySource, p string, visit func(srcVisit) error) error {
	if ts, ok := src.(treeSource); ok {
		fi, err := src.Stat(p)
		if err != nil {
			return err
		}
		if e, ok := fi.Sys().(fsimage.Entry); ok {
			return walkTree(ctx, ts.tree, p, e, visit)
		}
	}
	return fs.WalkDir(src, p, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := srcVisit{name: name, fi: fi}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if v.link, err = src.ReadLink(name); err != nil {
				return err
			}
		case d.Type().IsRegular():
			v.open = func() (io.ReadCloser, error) { return src.Open(name) }
		}
		return visit(v)
	})
}

// walkTree is walkSource over a tree: top is the entry p leads to.
func walkTree(ctx context.Context, t fsimage.Tree, p string, top fsimage.Entry, visit func(srcVisit) error) error {
	type item struct {
		name string
		e    fsimage.Entry
	}
	stack := []item{{p, top}}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		v := srcVisit{name: it.name, fi: entryInfo{it.e}}
		switch it.e.Type {
		case fsimage.TypeSymlink:
			v.link = it.e.Linkname
		case fsimage.TypeReg, fsimage.TypeHardlink:
			e := it.e
			v.open = func() (io.ReadCloser, error) {
				sr, err := t.Content(e.Path)
				return io.NopCloser(sr), err
			}
		}
		if err := visit(v); err != nil {
			return err
		}
		if it.e.Type != fsimage.TypeDir {
			continue
		}
		kids, err := t.Children(it.e.Path)
		if err != nil {
			return err
		}
		for i := len(kids) - 1; i >= 0; i-- {
			if k := kids[i]; k.Type != fsimage.TypeWhiteout {
				stack = append(stack, item{path.Join(it.name, path.Base(k.Path)), k})
			}
		}
	}
	return nil
}

// entryInfo is the fs.FileInfo of an entry of a tree, as fsimage.FS
// gives it.
type entryInfo struct{ e fsimage.Entry }

func (fi entryInfo) Name() string { return path.Base(fi.e.Path) }
func (fi entryInfo) Size() int64 {
	switch fi.e.Type {
	case fsimage.TypeReg, fsimage.TypeHardlink:
		return fi.e.Size
	case fsimage.TypeSymlink:
		return int64(len(fi.e.Linkname))
	}
	return 0
}
func (fi entryInfo) Mode() fs.FileMode  { return fi.e.FileMode() }
func (fi entryInfo) ModTime() time.Time { return fi.e.ModTime }
func (fi entryInfo) IsDir() bool        { return fi.e.Type == fsimage.TypeDir }
func (fi entryInfo) Sys() any           { return fi.e }

// copyDir copies the contents of the directory p of src into dst,
// keeping symlinks as symlinks. Each entry is one step of the walk, and
// its directory in the box is made once, in the walk's order.
func copyDir(ctx context.Context, ov engine.FS, src copySource, p, dst string, own copyOwner) error {
	w := boxWriter{ov, own}
	return walkSource(ctx, src, p, func(v srcVisit) error {
		rel := strings.TrimPrefix(strings.TrimPrefix(v.name, p), "/")
		if p == "." {
			rel = v.name
		}
		target := path.Join(dst, rel)
		if rel == "." {
			target = dst
		}
		switch m := v.fi.Mode(); {
		case m.IsDir():
			return w.dir(target, m, target == dst)
		case m&fs.ModeSymlink != 0:
			return w.link(target, v.link)
		case m.IsRegular():
			f, err := v.open()
			if err != nil {
				return err
			}
			defer f.Close()
			return w.file(target, f, m, v.fi.ModTime())
		}
		return fmt.Errorf("%s: not a regular file, directory or symlink", v.name)
	})
}
