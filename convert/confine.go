package convert

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/engine"
)

// boxEntry is an entry of a box's tree met by a walk: its real path
// (relative, "." for the root) and its type.
type boxEntry struct {
	path string
	mode fs.FileMode
}

// boxWalker walks the tree of an overlay as fsimage.Walk needs.
type boxWalker struct{ ov engine.FS }

func (w boxWalker) Root() boxEntry { return boxEntry{path: ".", mode: fs.ModeDir} }

func (w boxWalker) Lookup(dir boxEntry, name string) (boxEntry, bool) {
	p := name
	if dir.path != "." {
		p = dir.path + "/" + name
	}
	st, errno := w.ov.Lstat(p)
	if errno != 0 {
		return boxEntry{path: p}, false
	}
	return boxEntry{path: p, mode: st.Mode}, true
}

func (w boxWalker) IsDir(e boxEntry) bool { return e.mode.IsDir() }

func (w boxWalker) Link(e boxEntry) (string, bool) {
	if e.mode&fs.ModeSymlink == 0 {
		return "", false
	}
	target, errno := w.ov.Readlink(e.path)
	if errno != 0 {
		return "", true
	}
	return target, true
}

// under reports whether the real path p is root or below it.
func under(p, root string) bool {
	return root == "." || p == root || strings.HasPrefix(p, root+"/")
}

// extraction writes the entries of an archive under a destination of the
// box, as Docker's extraction: no entry is written, and no link made,
// outside it, whatever the links of the archive (or of the box) say.
type extraction struct {
	ov   engine.FS
	root string // the destination's real path
	// dirs are the real paths of the archive's directories met so far,
	// so an entry costs one step of the walk, not one per directory
	// above it; forgotten when a link is replaced (see remove).
	dirs map[string]string
}

func newExtraction(ov engine.FS, dest string) (*extraction, error) {
	if err := ov.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	w, err := fsimage.Walk[boxEntry](boxWalker{ov}, dest, true)
	if err != nil || !w.Found {
		return nil, fmt.Errorf("the destination %s: not a directory", dest)
	}
	return &extraction{ov: ov, root: w.Path, dirs: map[string]string{}}, nil
}

// parent makes the directories of the archive's entry name (clean,
// relative) and returns the real path the entry will have. A link on the
// way is followed only when it leads to a directory under the
// destination.
func (x *extraction) parent(name string) (string, error) {
	cur, shown := x.root, ""
	dir, base := path.Split(name)
	if real, ok := x.dirs[dir]; ok {
		cur, dir = real, ""
	}
	for _, elem := range strings.Split(strings.TrimSuffix(dir, "/"), "/") {
		if elem == "" {
			continue
		}
		shown = path.Join(shown, elem)
		next := elem
		if cur != "." {
			next = cur + "/" + elem
		}
		st, errno := x.ov.Lstat(next)
		switch {
		case errno != 0:
			if errno := x.ov.Mkdir(next, 0o755); errno != 0 {
				return "", &fs.PathError{Op: "mkdir", Path: "/" + next, Err: errno}
			}
		case st.Mode&fs.ModeSymlink != 0:
			w, err := fsimage.Walk[boxEntry](boxWalker{x.ov}, next, true)
			if err != nil || !w.Found || !w.Node.mode.IsDir() {
				return "", fmt.Errorf("archive entry %s: %s is a link that leads to no directory", name, shown)
			}
			if !under(w.Path, x.root) {
				return "", fmt.Errorf("archive entry %s: %s is a link that leads out of the destination (to /%s)", name, shown, w.Path)
			}
			next = w.Path
		case !st.Mode.IsDir():
			return "", fmt.Errorf("archive entry %s: %s is not a directory", name, shown)
		}
		cur = next
	}
	if dir != "" {
		x.dirs[dir] = cur
	}
	if cur == "." {
		return base, nil
	}
	return cur + "/" + base, nil
}

// remove removes the entry at the real path at, to be replaced. Replacing
// a link changes where the names through it lead: the directories known
// are forgotten.
func (x *extraction) remove(at string) {
	st, errno := x.ov.Lstat(at)
	if errno != 0 {
		return
	}
	if st.Mode&fs.ModeSymlink != 0 {
		clear(x.dirs)
	}
	if !st.Mode.IsDir() {
		x.ov.Unlink(at)
	}
}

// symlinkTarget checks the target of the archive's symlink entry name
// (at the real path at): a relative target must stay under the
// destination, as Docker's extraction requires.
func (x *extraction) symlinkTarget(name, at, target string) error {
	if path.IsAbs(target) {
		return nil // the box's own path, as Docker keeps it
	}
	if to := strings.TrimPrefix(path.Join("/"+path.Dir(at), target), "/"); !under(to, x.root) && !(to == "" && x.root == ".") {
		return fmt.Errorf("archive entry %s: the symlink to %s leads out of the destination", name, target)
	}
	return nil
}

// hardlinkTarget is the real path of the entry a hard link of the
// archive names, which must be under the destination.
func (x *extraction) hardlinkTarget(name, linkname string) (string, error) {
	rel := strings.TrimPrefix(path.Clean("/"+linkname), "/")
	p := rel
	if x.root != "." {
		p = x.root + "/" + rel
	}
	w, err := fsimage.Walk[boxEntry](boxWalker{x.ov}, p, false)
	if err != nil || !w.Found {
		return "", fmt.Errorf("archive entry %s: the hard link's target %s is not in the archive", name, linkname)
	}
	if !under(w.Path, x.root) {
		return "", fmt.Errorf("archive entry %s: the hard link to %s leads out of the destination", name, linkname)
	}
	return w.Path, nil
}
