package oci

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wasmbox/wasmbox/fsimage"
)

// Flattening turns the tar layers of a foreign image into one file tree,
// with Docker's rules: a layer's whiteouts (".wh.NAME") and opaque
// directories (".wh..wh..opq") hide what the layers beneath hold, a later
// entry replaces an earlier one, and a directory over a directory merges.
//
// Nothing is ever extracted: the tree is a map in memory and the files'
// contents go to one spool file that is unlinked as soon as it is created,
// so a hostile layer has no host path to aim at. Entries that could only
// mean harm or that a box cannot hold are dropped and reported:
//   - a name that is absolute or has a ".." element (tar-slip);
//   - a name whose parent is a symbolic link (writing through a link is
//     how an extraction is led out of its root; a layer made by diffing a
//     real file system never does it);
//   - a hard link whose target is absolute, has "..", goes through a link,
//     or is not a regular file the image already holds;
//   - device nodes and FIFOs (a box has /dev/null only).
//
// Symbolic links themselves are kept as written, whatever they point to:
// the box resolves them inside its own tree, where "/" is the box's root.

// Dropped is a layer entry that flattening left out.
type Dropped struct {
	Layer  int    // index of the layer in the image, bottom first
	Name   string // the entry's name as the tar has it
	Reason string
}

func (d Dropped) String() string {
	return fmt.Sprintf("layer %d: %q: %s", d.Layer+1, d.Name, d.Reason)
}

// fnode is a file of the flattened tree.
type fnode struct {
	e    fsimage.Entry     // Path is not set; Type is reg, dir or symlink
	data *fdata            // regular files; hard links share one
	kids map[string]*fnode // directories
}

// fdata is where a regular file's contents are in the spool.
type fdata struct {
	off, size int64
	elf       int8 // 0 not checked yet, 1 an ELF file, -1 not
}

// flatTree is a file tree being flattened.
type flatTree struct {
	root    *fnode
	spool   *os.File
	end     int64
	dropped []Dropped
}

var epoch = time.Unix(0, 0).UTC()

func newDir(mode fs.FileMode) *fnode {
	return &fnode{e: fsimage.Entry{Type: fsimage.TypeDir, Mode: mode, ModTime: epoch}, kids: map[string]*fnode{}}
}

// newFlatTree starts an empty tree whose contents are spooled to an
// unlinked temporary file in dir.
func newFlatTree(dir string) (*flatTree, error) {
	f, err := os.CreateTemp(dir, ".tmp-flatten-*")
	if err != nil {
		return nil, fmt.Errorf("flattening: %w", err)
	}
	// Unlinked at once: nothing is left behind, whatever happens next.
	os.Remove(f.Name())
	return &flatTree{root: newDir(0o755), spool: f}, nil
}

func (t *flatTree) Close() error { return t.spool.Close() }

// layerEntry is one entry of a layer, read and spooled.
type layerEntry struct {
	name  string   // as the tar has it, for reports
	elems []string // the clean path, split
	hdr   tar.Header
	data  *fdata
}

func (t *flatTree) drop(layer int, name, format string, args ...any) {
	t.dropped = append(t.dropped, Dropped{Layer: layer, Name: name, Reason: fmt.Sprintf(format, args...)})
}

// splitName returns the elements of a tar entry name ("./usr/bin/" is
// usr, bin), or why the name is refused.
func splitName(name string) ([]string, string) {
	if strings.IndexByte(name, 0) >= 0 {
		return nil, "the name has a NUL byte"
	}
	if strings.HasPrefix(name, "/") {
		return nil, "absolute path (tar-slip)"
	}
	var elems []string
	for _, el := range strings.Split(name, "/") {
		switch el {
		case "", ".":
			continue
		case "..":
			return nil, `the name has a ".." element (tar-slip)`
		}
		elems = append(elems, el)
	}
	return elems, ""
}

// addLayer reads one uncompressed layer tar into the tree. A malformed
// tar is an error naming the entry; entries the tree cannot take are
// dropped and recorded.
func (t *flatTree) addLayer(ctx context.Context, layer int, r io.Reader) error {
	tr := tar.NewReader(r)
	var ents []layerEntry
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			after := ""
			if len(ents) > 0 {
				after = fmt.Sprintf(" after entry %q", ents[len(ents)-1].name)
			}
			return fmt.Errorf("layer %d: reading the tar%s: %w", layer+1, after, err)
		}
		le := layerEntry{name: hdr.Name, hdr: *hdr}
		if isSparse(hdr) {
			// A few bytes of tar could stand for terabytes of holes:
			// never expanded. Docker's own layers have none.
			t.drop(layer, hdr.Name, "a sparse file (not supported)")
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			continue
		case tar.TypeReg, tar.TypeRegA, tar.TypeCont:
			le.hdr.Typeflag = tar.TypeReg
			le.data = &fdata{off: t.end}
			n, err := io.Copy(t.spool, tr)
			if err != nil {
				return fmt.Errorf("layer %d: entry %q: %w", layer+1, hdr.Name, err)
			}
			le.data.size = n
			t.end += n
		}
		var why string
		if le.elems, why = splitName(hdr.Name); why != "" {
			t.drop(layer, hdr.Name, "%s", why)
			continue
		}
		ents = append(ents, le)
	}
	// Whiteouts hide what the layers beneath hold, not this layer's own
	// entries: they go first.
	for _, le := range ents {
		if len(le.elems) > 0 && strings.HasPrefix(le.elems[len(le.elems)-1], ".wh.") {
			t.whiteout(layer, le)
		}
	}
	for _, le := range ents {
		if len(le.elems) > 0 && strings.HasPrefix(le.elems[len(le.elems)-1], ".wh.") {
			continue
		}
		t.add(layer, le)
	}
	return nil
}

// isSparse reports a GNU or PAX sparse file.
func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// walk returns the directory holding elems[:len(elems)-1] (elems must not
// be empty), creating the missing ones when create is set. It refuses a
// parent that is a symbolic link or not a directory. nil with no reason:
// a parent is missing and create is false.
func (t *flatTree) walk(elems []string, create bool) (*fnode, string) {
	n := t.root
	for i, el := range elems[:len(elems)-1] {
		c, ok := n.kids[el]
		if !ok {
			if !create {
				return nil, ""
			}
			c = newDir(0o755)
			n.kids[el] = c
		}
		switch c.e.Type {
		case fsimage.TypeDir:
			n = c
		case fsimage.TypeSymlink:
			return nil, fmt.Sprintf("written through the symbolic link %s -> %s", strings.Join(elems[:i+1], "/"), c.e.Linkname)
		default:
			return nil, fmt.Sprintf("its parent %s is not a directory", strings.Join(elems[:i+1], "/"))
		}
	}
	return n, ""
}

// whiteout applies ".wh.NAME" or ".wh..wh..opq" to the tree.
func (t *flatTree) whiteout(layer int, le layerEntry) {
	base := le.elems[len(le.elems)-1]
	if base == ".wh..wh..opq" {
		dir := t.root
		if len(le.elems) > 1 {
			parent, why := t.walk(le.elems[:len(le.elems)-1], false)
			if why != "" {
				t.drop(layer, le.name, "opaque directory marker %s", why)
				return
			}
			if parent == nil {
				return
			}
			d, ok := parent.kids[le.elems[len(le.elems)-2]]
			if !ok {
				return
			}
			if d.e.Type != fsimage.TypeDir {
				t.drop(layer, le.name, "opaque directory marker in %s, which is not a directory", strings.Join(le.elems[:len(le.elems)-1], "/"))
				return
			}
			dir = d
		}
		dir.kids = map[string]*fnode{}
		return
	}
	if strings.HasPrefix(base, ".wh..wh.") {
		t.drop(layer, le.name, "AUFS metadata, not a file")
		return
	}
	name := strings.TrimPrefix(base, ".wh.")
	if name == "" || name == "." || name == ".." {
		t.drop(layer, le.name, "a whiteout of %q names no file", name)
		return
	}
	parent, why := t.walk(le.elems, false)
	if why != "" {
		t.drop(layer, le.name, "whiteout %s", why)
		return
	}
	if parent != nil {
		delete(parent.kids, name)
	}
}

func owner(id int) uint32 {
	if id < 0 || id > math.MaxUint32 {
		return 0
	}
	return uint32(id)
}

// add puts one (non-whiteout) entry in the tree.
func (t *flatTree) add(layer int, le layerEntry) {
	h := &le.hdr
	e := fsimage.Entry{Mode: fsimage.GoMode(uint32(h.Mode & 0o7777)), UID: owner(h.Uid), GID: owner(h.Gid), ModTime: h.ModTime}
	var n *fnode
	switch h.Typeflag {
	case tar.TypeReg:
		e.Type, e.Size = fsimage.TypeReg, le.data.size
		n = &fnode{e: e, data: le.data}
	case tar.TypeDir:
		e.Type = fsimage.TypeDir
		n = &fnode{e: e, kids: map[string]*fnode{}}
	case tar.TypeSymlink:
		if h.Linkname == "" || strings.IndexByte(h.Linkname, 0) >= 0 {
			t.drop(layer, le.name, "a symbolic link with an empty target or a NUL byte")
			return
		}
		e.Type, e.Mode, e.Linkname = fsimage.TypeSymlink, 0o777, h.Linkname
		n = &fnode{e: e}
	case tar.TypeLink:
		target, why := t.linkTarget(h.Linkname)
		if why != "" {
			t.drop(layer, le.name, "hard link to %q: %s", h.Linkname, why)
			return
		}
		// One inode: the link is the target, with its metadata.
		n = &fnode{e: target.e, data: target.data}
	case tar.TypeChar, tar.TypeBlock:
		t.drop(layer, le.name, "a device node (a box has no devices but /dev/null)")
		return
	case tar.TypeFifo:
		t.drop(layer, le.name, "a FIFO (WASI has none)")
		return
	default:
		t.drop(layer, le.name, "tar entry type %q is not a file, directory or link", h.Typeflag)
		return
	}
	if len(le.elems) == 0 {
		if n.e.Type != fsimage.TypeDir {
			t.drop(layer, le.name, "the root must be a directory, not a %s", n.e.Type)
			return
		}
		t.root.e = n.e
		return
	}
	parent, why := t.walk(le.elems, true)
	if why != "" {
		t.drop(layer, le.name, "%s", why)
		return
	}
	name := le.elems[len(le.elems)-1]
	if old, ok := parent.kids[name]; ok && old.e.Type == fsimage.TypeDir && n.e.Type == fsimage.TypeDir {
		// A directory over a directory merges; the new one's metadata.
		old.e = n.e
		return
	}
	parent.kids[name] = n
}

// linkTarget finds the regular file a hard link names.
func (t *flatTree) linkTarget(name string) (*fnode, string) {
	elems, why := splitName(name)
	if why != "" {
		return nil, why
	}
	if len(elems) == 0 {
		return nil, "not a regular file"
	}
	parent, why := t.walk(elems, false)
	if why != "" {
		return nil, why
	}
	if parent == nil {
		return nil, "no such file in the image"
	}
	n, ok := parent.kids[elems[len(elems)-1]]
	switch {
	case !ok:
		return nil, "no such file in the image"
	case n.e.Type != fsimage.TypeReg:
		return nil, fmt.Sprintf("a %s, not a regular file", n.e.Type)
	}
	return n, ""
}

// lookup returns the node at the clean relative path p without following
// symbolic links ("." is the root).
func (t *flatTree) lookup(p string) (*fnode, bool) {
	n := t.root
	if p == "." || p == "" {
		return n, true
	}
	for _, el := range strings.Split(p, "/") {
		if n.e.Type != fsimage.TypeDir {
			return nil, false
		}
		c, ok := n.kids[el]
		if !ok {
			return nil, false
		}
		n = c
	}
	return n, true
}

// resolve follows p through the tree as the box would (fsimage.Walk:
// absolute link targets start at the root, ".." stops there). follow says
// whether a link at the end of p is followed too. It returns the node and
// its real path.
func (t *flatTree) resolve(p string, follow bool) (*fnode, string, error) {
	w, err := fsimage.Walk[*fnode](flatWalker{t}, p, follow)
	if err != nil {
		return nil, "", err
	}
	if !w.Found {
		return nil, "", fs.ErrNotExist
	}
	return w.Node, w.Path, nil
}

// flatWalker is the tree as fsimage.Walk sees it.
type flatWalker struct{ t *flatTree }

func (w flatWalker) Root() *fnode { return w.t.root }

func (w flatWalker) Lookup(dir *fnode, name string) (*fnode, bool) {
	n, ok := dir.kids[name]
	return n, ok
}

func (w flatWalker) IsDir(n *fnode) bool { return n.e.Type == fsimage.TypeDir }

func (w flatWalker) Link(n *fnode) (string, bool) {
	return n.e.Linkname, n.e.Type == fsimage.TypeSymlink
}

// each calls f for every node below the root, parents before children,
// siblings sorted by name.
func (t *flatTree) each(f func(p string, n *fnode)) {
	var rec func(prefix string, n *fnode)
	rec = func(prefix string, n *fnode) {
		names := make([]string, 0, len(n.kids))
		for k := range n.kids {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			c := n.kids[k]
			p := prefix + k
			f(p, c)
			if c.e.Type == fsimage.TypeDir {
				rec(p+"/", c)
			}
		}
	}
	rec("", t.root)
}

// remove deletes the node at p (and its subtree); false if there is none.
func (t *flatTree) remove(p string) bool {
	dir, name := ".", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, name = p[:i], p[i+1:]
	}
	d, ok := t.lookup(dir)
	if !ok || d.e.Type != fsimage.TypeDir {
		return false
	}
	if _, ok := d.kids[name]; !ok {
		return false
	}
	delete(d.kids, name)
	return true
}

// put places n at p, creating missing parent directories; the parents
// must not be links or files.
func (t *flatTree) put(p string, n *fnode) error {
	elems := strings.Split(p, "/")
	parent, why := t.walk(elems, true)
	if why != "" {
		return fmt.Errorf("placing /%s: %s", p, why)
	}
	parent.kids[elems[len(elems)-1]] = n
	return nil
}

// isELF reports whether the regular file d is a native (ELF) program or
// library.
func (t *flatTree) isELF(d *fdata) bool {
	if d.elf == 0 {
		d.elf = -1
		var magic [4]byte
		if d.size >= 4 {
			if _, err := t.spool.ReadAt(magic[:], d.off); err == nil && string(magic[:]) == "\x7fELF" {
				d.elf = 1
			}
		}
	}
	return d.elf == 1
}

// writeTo writes the tree as one fsimage layer. Files sharing contents
// (hard links) are one regular file and hard links to it.
func (t *flatTree) writeTo(w io.Writer) (int64, error) {
	fw := fsimage.NewWriter()
	first := map[*fdata]string{}
	root := t.root.e
	root.Path = "."
	err := fw.Add(root, nil)
	t.each(func(p string, n *fnode) {
		if err != nil {
			return
		}
		e := n.e
		e.Path = p
		switch {
		case n.data != nil:
			if leader, ok := first[n.data]; ok {
				e.Type, e.Size, e.Linkname = fsimage.TypeHardlink, 0, leader
				err = fw.Add(e, nil)
				return
			}
			first[n.data] = p
			d := n.data
			e.Size = d.size
			err = fw.Add(e, func() (io.ReadCloser, error) {
				return io.NopCloser(io.NewSectionReader(t.spool, d.off, d.size)), nil
			})
		default:
			e.Size = 0
			err = fw.Add(e, nil)
		}
	})
	if err != nil {
		return 0, err
	}
	return fw.WriteTo(w)
}
