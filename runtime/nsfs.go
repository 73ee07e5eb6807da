package runtime

import (
	"errors"
	"io/fs"
	"path"
	"strings"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/fsimage"
)

// A box's processes see one tree: the overlay at "/" and the mounts above
// it. Guests get it as their only WASI preopen, "/", (nsFS) and every path
// they give is resolved here, element by element, the way a kernel
// resolves it across mount points (fsimage.Walk, with each element looked
// up in the file system that holds it):
//   - a path is in a mount only at a "/" boundary: /tmp is not in /t (Go's
//     wasip1 matches preopens by string prefix, so a preopen per mount sent
//     the box's /tmp/x to the host directory mounted at /t);
//   - symlinks are followed in the box's namespace, whichever file system
//     holds them: a link in the overlay leads into a mount, and a link in a
//     mount ("x -> .", then x/sub) reaches the mount that covers where it
//     leads (a read-only one stays read-only);
//   - the file system holding the resolved path gets it without links in
//     its directories, so it never follows one itself to a place another
//     mount covers. The walk and the operation are one step for the box's
//     processes (ns.mu): no other process of the box changes the links in
//     between.
//   - mount points and the directories above them cannot be renamed or
//     removed (EPERM, for wazero has no EBUSY): the host directory a mount
//     covers stays where the mount is.

// wazero's errno set has neither EBUSY nor EXDEV (nor a way to pass
// them to the guest).
const (
	// errnoBusy: a mount point, or a directory above one, is renamed or removed.
	errnoBusy = experimentalsys.EPERM
	// errnoCrossMount: a rename or link between two file systems; what
	// wazero returned when they were two preopens.
	errnoCrossMount = experimentalsys.ENOSYS
)

// loc is where a box path leads: the mount holding it (an index in
// ns.mounts, rootMount or fileMount), the file system and the path in it.
type loc struct {
	mount int
	fsys  experimentalsys.FS
	rel   string
	path  string // absolute and clean, without links
}

const (
	rootMount = -1 // the box's overlay
	fileMount = -2 // one of ns.files (/etc/hostname)
)

// nsNode is a node of the namespace as fsimage.Walk sees it: in the box's
// overlay (ref set: looked up there directly, in constant time) or in a
// mount (by Lstat in the mount's file system).
type nsNode struct {
	path string
	mode fs.FileMode
	ref  *ref
}

type nsWalker struct {
	ns    *namespace
	errno experimentalsys.Errno // the first error other than ENOENT
}

func (w *nsWalker) Root() nsNode {
	o := w.ns.root
	o.mu.RLock()
	defer o.mu.RUnlock()
	return nsNode{path: "/", mode: fs.ModeDir, ref: o.rootRef()}
}

func (w *nsWalker) Lookup(dir nsNode, name string) (nsNode, bool) {
	p := path.Join(dir.path, name)
	l := w.ns.route(p)
	if dir.ref != nil && l.mount == rootMount {
		o := w.ns.root
		o.mu.RLock()
		defer o.mu.RUnlock()
		c := o.child(dir.ref, name)
		if !c.exists() {
			return nsNode{path: p}, false
		}
		mode := fs.FileMode(0)
		switch c.typ() {
		case fsimage.TypeDir:
			mode = fs.ModeDir
		case fsimage.TypeSymlink:
			mode = fs.ModeSymlink
		}
		return nsNode{path: p, mode: mode, ref: c}, true
	}
	st, errno := l.fsys.Lstat(l.rel)
	if errno != 0 {
		if errno != experimentalsys.ENOENT && w.errno == 0 {
			w.errno = errno
		}
		return nsNode{path: p}, false
	}
	return nsNode{path: p, mode: st.Mode}, true
}

func (w *nsWalker) IsDir(n nsNode) bool { return n.mode.IsDir() }

func (w *nsWalker) Link(n nsNode) (string, bool) {
	if n.mode&fs.ModeSymlink == 0 {
		return "", false
	}
	if n.ref != nil {
		o := w.ns.root
		o.mu.RLock()
		defer o.mu.RUnlock()
		return o.linkTarget(n.ref), true
	}
	l := w.ns.route(n.path)
	target, errno := l.fsys.Readlink(l.rel)
	if errno != 0 && w.errno == 0 {
		w.errno = errno
	}
	return target, true
}

// resolve finds where the box path p leads, following links in every
// element but the last, and in the last when follow is set. The caller
// holds ns.mu.
func (ns *namespace) resolve(p string, follow bool) (loc, experimentalsys.Errno) {
	if len(ns.mounts) == 0 {
		// Nothing to cross: the overlay resolves its own links.
		return ns.route(p), 0
	}
	w := &nsWalker{ns: ns}
	walked, err := fsimage.Walk[nsNode](w, p, follow)
	if err != nil {
		switch {
		case errors.Is(err, fsimage.ErrLoop):
			return loc{}, experimentalsys.ELOOP
		case errors.Is(err, fsimage.ErrNotDir):
			return loc{}, experimentalsys.ENOTDIR
		case w.errno != 0:
			return loc{}, w.errno
		}
		return loc{}, experimentalsys.ENOENT
	}
	l := ns.route("/" + walked.Path)
	if strings.HasSuffix(p, "/") && l.rel != "." {
		l.rel += "/" // "must be a directory", for the file system to check
	}
	return l, 0
}

// busy reports whether the box path p (absolute, clean) is a mount point or
// a directory above one.
func (ns *namespace) busy(p string) bool {
	for _, m := range ns.mounts {
		if m.target == p || p == "/" || strings.HasPrefix(m.target, p+"/") {
			return true
		}
	}
	return false
}

// nsFS is a namespace as one file system: what guests get as "/".
type nsFS struct {
	experimentalsys.UnimplementedFS
	ns *namespace
}

// at resolves p for a call that changes nothing but p's own contents;
// done ends the step.
func (ns *namespace) at(p string, follow bool) (l loc, errno experimentalsys.Errno, done func()) {
	ns.mu.RLock()
	l, errno = ns.resolve(p, follow)
	return l, errno, ns.mu.RUnlock
}

func (f nsFS) at(p string, follow bool) (loc, experimentalsys.Errno, func()) {
	return f.ns.at(p, follow)
}

// change resolves p for a call that changes names in a directory: no
// other call of the box runs until it is done.
func (f nsFS) change(p string) (loc, experimentalsys.Errno, func()) {
	f.ns.mu.Lock()
	l, errno := f.ns.resolve(p, false)
	return l.under(f.ns), errno, f.ns.mu.Unlock
}

// under is where changes to l's name go: a single file shown over the
// root is opened and stat'ed there, the rest reaches the root below it.
func (l loc) under(ns *namespace) loc {
	if l.mount == fileMount {
		l.mount, l.fsys = rootMount, ns.rootFS()
	}
	return l
}

func (f nsFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	// open(O_CREAT|O_EXCL) never follows a link in the last element.
	follow := flag&experimentalsys.O_NOFOLLOW == 0 && flag&(experimentalsys.O_CREAT|experimentalsys.O_EXCL) != experimentalsys.O_CREAT|experimentalsys.O_EXCL
	l, errno, done := f.at(p, follow)
	defer done()
	if errno != 0 {
		return nil, errno
	}
	if flag&experimentalsys.O_CREAT != 0 && strings.HasSuffix(p, "/") {
		// "name/" cannot name a new regular file (EISDIR, as Linux):
		// not every file system below sees the slash.
		if _, errno := l.fsys.Stat(strings.TrimSuffix(l.rel, "/")); errno == experimentalsys.ENOENT {
			return nil, experimentalsys.EISDIR
		}
	}
	return l.fsys.OpenFile(l.rel, flag, perm)
}

func (f nsFS) Lstat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	l, errno, done := f.at(p, false)
	defer done()
	if errno != 0 {
		return wazerosys.Stat_t{}, errno
	}
	return l.fsys.Lstat(l.rel)
}

func (f nsFS) Stat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	l, errno, done := f.at(p, true)
	defer done()
	if errno != 0 {
		return wazerosys.Stat_t{}, errno
	}
	return l.fsys.Stat(l.rel)
}

func (f nsFS) Readlink(p string) (string, experimentalsys.Errno) {
	l, errno, done := f.at(p, false)
	defer done()
	if errno != 0 {
		return "", errno
	}
	return l.under(f.ns).fsys.Readlink(l.rel)
}

func (f nsFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	l, errno, done := f.at(p, true)
	defer done()
	if errno != 0 {
		return errno
	}
	return l.fsys.Chmod(l.rel, perm)
}

func (f nsFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	l, errno, done := f.at(p, true)
	defer done()
	if errno != 0 {
		return errno
	}
	return l.under(f.ns).fsys.Utimens(l.rel, atim, mtim)
}

func (f nsFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	l, errno, done := f.change(p)
	defer done()
	if errno != 0 {
		return errno
	}
	return l.fsys.Mkdir(l.rel, perm)
}

func (f nsFS) Symlink(target, p string) experimentalsys.Errno {
	l, errno, done := f.change(p)
	defer done()
	if errno != 0 {
		return errno
	}
	return l.fsys.Symlink(target, l.rel)
}

// remove removes p with rm (Unlink, Rmdir): never a mount point or a
// directory above one.
func (f nsFS) remove(p string, rm func(experimentalsys.FS, string) experimentalsys.Errno) experimentalsys.Errno {
	l, errno, done := f.change(p)
	defer done()
	if errno != 0 {
		return errno
	}
	if f.ns.busy(l.path) {
		return errnoBusy
	}
	return rm(l.fsys, l.rel)
}

func (f nsFS) Unlink(p string) experimentalsys.Errno { return f.remove(p, experimentalsys.FS.Unlink) }
func (f nsFS) Rmdir(p string) experimentalsys.Errno  { return f.remove(p, experimentalsys.FS.Rmdir) }

// two resolves the two paths of a rename or a link, which must be in the
// same file system (EXDEV for a kernel; ENOSYS here).
func (f nsFS) two(from, to string) (src, dst loc, errno experimentalsys.Errno, done func()) {
	f.ns.mu.Lock()
	if src, errno = f.ns.resolve(from, false); errno == 0 {
		dst, errno = f.ns.resolve(to, false)
	}
	src, dst = src.under(f.ns), dst.under(f.ns)
	if errno == 0 && src.mount != dst.mount {
		errno = errnoCrossMount
	}
	return src, dst, errno, f.ns.mu.Unlock
}

func (f nsFS) Rename(from, to string) experimentalsys.Errno {
	src, dst, errno, done := f.two(from, to)
	defer done()
	if errno != 0 {
		return errno
	}
	if f.ns.busy(src.path) || f.ns.busy(dst.path) {
		return errnoBusy
	}
	return src.fsys.Rename(src.rel, dst.rel)
}

func (f nsFS) Link(oldPath, newPath string) experimentalsys.Errno {
	src, dst, errno, done := f.two(oldPath, newPath)
	defer done()
	if errno != 0 {
		return errno
	}
	return src.fsys.Link(src.rel, dst.rel)
}
