package runtime

import (
	"errors"
	"hash/fnv"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/fsimage"
)

// overlay implements Overlay (see overlay_api.go): read-only layers below
// and a writable layer above, in memory. It is the wazero file system every
// process of a run sees. Its build-side methods (WriteLayer, SetOwner,
// Uncreate, ...) reach the builder through internal/engine, not through
// runtime's API.
type overlay struct {
	mu      sync.RWMutex
	lower   fsimage.Tree
	root    *node
	nextIno uint64
	now     func() time.Time
	// digests remembers the digest of lower files run as programs,
	// shared by the overlays of one Box.
	digests *moduleDigests
	// uid and gid own what the run creates (WASI has no users).
	uid, gid uint32
	// capacity bounds the bytes of file data the writable layer holds
	// (NewTmpfs's size; 0: none); used counts them.
	capacity, used int64
	// charge, when set, accounts the same bytes against the limits of
	// the run using the overlay (Limits.Memory); false refuses them.
	charge func(delta int64) bool
	// box is the box whose layers are below (Box.Overlay), for the
	// snapshots of its programs; nil for other overlays.
	box *Box
	// trace, when set, records what the overlay is asked (snapshots).
	trace *fsTrace
}

// chargeLocked accounts delta bytes of file data (negative: freed) and
// reports whether they may be kept. Callers hold o.mu.
func (o *overlay) chargeLocked(delta int64) bool {
	if delta == 0 {
		return true
	}
	if o.capacity > 0 && delta > 0 && o.used+delta > o.capacity {
		return false
	}
	if o.charge != nil && !o.charge(delta) {
		return false
	}
	o.used += delta
	return true
}

// setCharge installs (or, with nil, removes) the accounting of a run.
func (o *overlay) setCharge(f func(int64) bool) {
	o.mu.Lock()
	o.charge = f
	o.mu.Unlock()
}

// SetOwner makes uid:gid the owner of every entry created from now on
// (the box's USER). Default: 0:0.
func (o *overlay) SetOwner(uid, gid uint32) {
	o.mu.Lock()
	o.uid, o.gid = uid, gid
	o.mu.Unlock()
}

// owner is the owner SetOwner set.
func (o *overlay) owner() (uid, gid uint32) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.uid, o.gid
}

// node is an entry of the writable layer. A directory node lists the
// names the writable layer knows below it; a name mapped to a whiteout
// node hides the lower entry of that name.
type node struct {
	typ      fsimage.Type // TypeReg, TypeDir, TypeSymlink or TypeWhiteout
	mode     fs.FileMode  // permission bits
	uid, gid uint32
	mtime    int64 // unix ns
	atime    int64
	ino      uint64
	nlink    uint32
	// opens counts the open files of a regular file: the data of a file
	// removed while open stays (and stays charged) until the last close.
	opens    atomic.Int32
	data     content // regular file
	target   string  // symlink
	children map[string]*node
	// opaque: lower entries below this directory are hidden.
	opaque bool
}

// newOverlay returns a writable overlay over lower (nil: an empty file
// system).
func newOverlay(lower fsimage.Tree) *overlay {
	o := &overlay{lower: lower, nextIno: 1 << 40, now: time.Now, digests: &moduleDigests{}}
	o.root = &node{typ: fsimage.TypeDir, mode: 0o755, children: map[string]*node{}, nlink: 1}
	if lower != nil {
		if e, ok := lower.Lookup("."); ok {
			o.root.mode, o.root.uid, o.root.gid = e.Mode, e.UID, e.GID
			o.root.mtime = e.ModTime.UnixNano()
		}
	} else {
		o.root.opaque = true
	}
	o.root.ino = o.newIno()
	return o
}

func (o *overlay) newIno() uint64 {
	o.nextIno++
	return o.nextIno
}

// ref is one resolved entry of the merged tree: a node of the writable
// layer, or an entry of the lower tree (lowerOK), or both for a directory
// whose lower contents still show through.
type ref struct {
	// fullPath is the clean relative path ("." is the root), made from
	// the parents' names when first asked for (see path): a walk down a
	// deep tree would otherwise build a string as long as the path at
	// every level.
	fullPath string
	name     string // the last element (a child's)
	n        *node
	lower    fsimage.Entry
	lowerOK  bool
	// parent is the directory holding the entry (nil for the root).
	parent *ref
}

// path is the clean relative path of r ("." for the root).
func (r *ref) path() string {
	if r.fullPath != "" {
		return r.fullPath
	}
	var names []string
	top := r
	for ; top.fullPath == "" && top.parent != nil; top = top.parent {
		names = append(names, top.name)
	}
	var b strings.Builder
	if top.fullPath != "." {
		b.WriteString(top.fullPath)
	}
	for i := len(names) - 1; i >= 0; i-- {
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(names[i])
	}
	r.fullPath = b.String()
	if r.fullPath == "" {
		r.fullPath = "."
	}
	return r.fullPath
}

// base is the last element of r's path.
func (r *ref) base() string {
	if r.name != "" {
		return r.name
	}
	return path.Base(r.path())
}

func (r *ref) exists() bool { return r.n != nil || r.lowerOK }

func (r *ref) typ() fsimage.Type {
	if r.n != nil {
		return r.n.typ
	}
	if r.lower.Type == fsimage.TypeHardlink {
		return fsimage.TypeReg
	}
	return r.lower.Type
}

func (r *ref) isDir() bool { return r.exists() && r.typ() == fsimage.TypeDir }

// lowerVisible reports whether lower entries below the directory r show.
func (r *ref) lowerVisible() bool {
	if r.n != nil {
		return r.n.typ == fsimage.TypeDir && !r.n.opaque && r.lowerOK && r.lower.Type == fsimage.TypeDir
	}
	return r.lowerOK && r.lower.Type == fsimage.TypeDir
}

func (o *overlay) rootRef() *ref {
	r := &ref{fullPath: ".", n: o.root}
	if o.lower != nil {
		r.lower, r.lowerOK = o.lower.Lookup(".")
		if !r.lowerOK {
			r.lower, r.lowerOK = fsimage.Entry{Path: ".", Type: fsimage.TypeDir, Mode: 0o755}, true
		}
	}
	return r
}

// child looks up name in the directory dir (no symlink following).
func (o *overlay) child(dir *ref, name string) *ref {
	c := &ref{name: name, parent: dir}
	if o.trace != nil {
		o.trace.look(c.path())
	}
	if dir.n != nil {
		if n, ok := dir.n.children[name]; ok {
			if n.typ == fsimage.TypeWhiteout {
				return c
			}
			c.n = n
		}
	}
	if dir.lowerVisible() && o.lower != nil {
		if e, ok := o.lower.Lookup(c.path()); ok && e.Type != fsimage.TypeWhiteout {
			if c.n == nil || (c.n.typ == fsimage.TypeDir && e.Type == fsimage.TypeDir) {
				c.lower, c.lowerOK = e, true
			}
		}
	}
	return c
}

func joinRel(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" || p == "." {
		return nil
	}
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

// resolve walks p from the root, following symlinks in every component
// and, when followLast is set, in the last one (fsimage.Walk: the one
// confined walk). The result may not exist (a create target); its parent
// always does.
//
// A trailing slash names a directory, as in POSIX: the last component is
// followed, and an existing entry that is not a directory is ENOTDIR.
func (o *overlay) resolve(p string, followLast bool) (*ref, experimentalsys.Errno) {
	w, err := fsimage.Walk[*ref](overlayWalker{o}, p, followLast)
	switch {
	case err == nil:
		return w.Node, 0
	case errors.Is(err, fsimage.ErrLoop):
		return nil, experimentalsys.ELOOP
	case errors.Is(err, fsimage.ErrNotDir):
		return nil, experimentalsys.ENOTDIR
	default:
		return nil, experimentalsys.ENOENT
	}
}

// overlayWalker is the merged tree as fsimage.Walk sees it.
type overlayWalker struct{ o *overlay }

func (w overlayWalker) Root() *ref { return w.o.rootRef() }

func (w overlayWalker) Lookup(dir *ref, name string) (*ref, bool) {
	c := w.o.child(dir, name)
	return c, c.exists()
}

func (w overlayWalker) IsDir(r *ref) bool { return r.isDir() }

func (w overlayWalker) Link(r *ref) (string, bool) {
	if r.typ() != fsimage.TypeSymlink {
		return "", false
	}
	return w.o.linkTarget(r), true
}

// hasTrailingSlash reports whether p names a directory by its form
// ("a/", not "/" alone): wazero keeps the guest's trailing slash.
func hasTrailingSlash(p string) bool {
	return strings.HasSuffix(p, "/") && strings.Trim(p, "/") != ""
}

func (o *overlay) linkTarget(r *ref) string {
	if r.n != nil {
		return r.n.target
	}
	return r.lower.Linkname
}

// upper makes sure r has a node in the writable layer, copying it (and its
// ancestors) up from the lower tree. Callers hold o.mu for writing.
func (o *overlay) upper(r *ref) (*node, experimentalsys.Errno) {
	if r.n != nil {
		return r.n, 0
	}
	if !r.lowerOK {
		return nil, experimentalsys.ENOENT
	}
	parent, errno := o.upper(r.parent)
	if errno != 0 {
		return nil, errno
	}
	if n, ok := parent.children[r.base()]; ok && n.typ != fsimage.TypeWhiteout {
		// Copied up already through another reference.
		r.n = n
		return n, 0
	}
	e := r.lower
	n := &node{mode: e.Mode, uid: e.UID, gid: e.GID, mtime: e.ModTime.UnixNano(), ino: lowerIno(e.Path), nlink: 1}
	n.atime = n.mtime
	switch e.Type {
	case fsimage.TypeDir:
		n.typ = fsimage.TypeDir
		n.children = map[string]*node{}
	case fsimage.TypeSymlink:
		n.typ = fsimage.TypeSymlink
		n.target = e.Linkname
	case fsimage.TypeReg, fsimage.TypeHardlink:
		n.typ = fsimage.TypeReg
		sr, err := o.lower.Content(e.Path)
		if err != nil {
			return nil, experimentalsys.EIO
		}
		if errno := o.copyUp(n, sr); errno != 0 {
			return nil, errno
		}
	default:
		return nil, experimentalsys.EIO
	}
	if errno := o.setChild(parent, r.base(), n); errno != 0 {
		o.chargeLocked(n.data.reset())
		return nil, errno
	}
	r.n = n
	return n, 0
}

// lowerIno gives lower entries a stable inode number.
func lowerIno(p string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, p)
	return h.Sum64() >> 1
}

func (o *overlay) stat(r *ref) wazerosys.Stat_t {
	var st wazerosys.Stat_t
	st.Dev = 1
	if r.n != nil {
		n := r.n
		st.Ino = n.ino
		st.Mode = typeBits(n.typ) | n.mode
		st.Nlink = uint64(max(n.nlink, 1))
		st.Size = n.data.size
		if n.typ == fsimage.TypeSymlink {
			st.Size = int64(len(n.target))
		}
		st.Mtim, st.Atim, st.Ctim = n.mtime, n.atime, n.mtime
		return st
	}
	e := r.lower
	st.Ino = lowerIno(e.Path)
	st.Mode = e.FileMode()
	st.Nlink = 1
	st.Size = e.Size
	if e.Type == fsimage.TypeSymlink {
		st.Size = int64(len(e.Linkname))
	}
	st.Mtim = e.ModTime.UnixNano()
	st.Atim, st.Ctim = st.Mtim, st.Mtim
	return st
}

// existing resolves p to an entry that exists (ENOENT otherwise).
func (o *overlay) existing(p string, followLast bool) (*ref, experimentalsys.Errno) {
	r, errno := o.resolve(p, followLast)
	if errno == 0 && !r.exists() {
		errno = experimentalsys.ENOENT
	}
	return r, errno
}

// owner returns the owner of r.
func (r *ref) owner() (uid, gid uint32) {
	if r.n != nil {
		return r.n.uid, r.n.gid
	}
	return r.lower.UID, r.lower.GID
}

// statOwner is Stat or Lstat plus the owner, which WASI does not carry.
func (o *overlay) statOwner(p string, follow bool) (wazerosys.Stat_t, uint32, uint32, experimentalsys.Errno) {
	if p == devNullPath {
		st, _ := devNull{}.Stat()
		return st, 0, 0, 0
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	r, errno := o.resolve(p, follow)
	if errno != 0 {
		return wazerosys.Stat_t{}, 0, 0, errno
	}
	if !r.exists() {
		return wazerosys.Stat_t{}, 0, 0, experimentalsys.ENOENT
	}
	uid, gid := r.owner()
	return o.stat(r), uid, gid, 0
}

func typeBits(t fsimage.Type) fs.FileMode {
	switch t {
	case fsimage.TypeDir:
		return fs.ModeDir
	case fsimage.TypeSymlink:
		return fs.ModeSymlink
	}
	return 0
}

// names lists the merged directory r, sorted.
func (o *overlay) names(r *ref) ([]string, experimentalsys.Errno) {
	if o.trace != nil {
		o.trace.list(r.path())
	}
	seen := map[string]bool{}
	var names []string
	if r.n != nil {
		for name, c := range r.n.children {
			seen[name] = true
			if c.typ != fsimage.TypeWhiteout {
				names = append(names, name)
			}
		}
	}
	if r.lowerVisible() && o.lower != nil {
		kids, err := o.lower.Children(r.path())
		if err != nil {
			return nil, experimentalsys.EIO
		}
		for _, e := range kids {
			name := path.Base(e.Path)
			if !seen[name] && e.Type != fsimage.TypeWhiteout {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	return names, 0
}

// The experimental sys.FS implementation. Paths arrive cleaned and
// relative to the root ("." or "" is the root).

var _ experimentalsys.FS = (*overlay)(nil)

func (o *overlay) Lstat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	st, _, _, errno := o.statOwner(p, false)
	return st, errno
}

func (o *overlay) Stat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	st, _, _, errno := o.statOwner(p, true)
	return st, errno
}

func (o *overlay) Readlink(p string) (string, experimentalsys.Errno) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	r, errno := o.existing(p, false)
	if errno != 0 {
		return "", errno
	}
	if r.typ() != fsimage.TypeSymlink {
		return "", experimentalsys.EINVAL
	}
	return o.linkTarget(r), 0
}

// create adds a new node named by the last element of r (which must not
// exist) under r's parent. Callers hold o.mu for writing.
func (o *overlay) create(r *ref, n *node) experimentalsys.Errno {
	if r.parent == nil {
		return experimentalsys.EEXIST
	}
	parent, errno := o.upper(r.parent)
	if errno != 0 {
		return errno
	}
	if n.ino == 0 {
		n.ino = o.newIno()
		n.uid, n.gid = o.uid, o.gid
	}
	if n.nlink == 0 {
		n.nlink = 1
	}
	now := o.now().UnixNano()
	if n.mtime == 0 {
		n.mtime, n.atime = now, now
	}
	name := r.base()
	if old, ok := parent.children[name]; ok && old.typ == fsimage.TypeWhiteout && n.typ == fsimage.TypeDir {
		// A directory made where a lower one was deleted must not show
		// the old contents.
		n.opaque = true
	}
	if errno := o.setChild(parent, name, n); errno != 0 {
		return errno
	}
	parent.mtime = now
	r.n = n
	return 0
}

func (o *overlay) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, errno := o.resolve(p, false)
	if errno != 0 {
		return errno
	}
	if r.exists() {
		return experimentalsys.EEXIST
	}
	return o.create(r, &node{typ: fsimage.TypeDir, mode: perm & fs.ModePerm, children: map[string]*node{}})
}

func (o *overlay) Symlink(oldPath, linkName string) experimentalsys.Errno {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, errno := o.resolve(linkName, false)
	if errno != 0 {
		return errno
	}
	if r.exists() {
		return experimentalsys.EEXIST
	}
	// wazero hands the target over as a string aliasing the guest's
	// memory (unsafe.String in path_symlink): keep a copy, or the link
	// changes when the guest reuses that buffer.
	return o.create(r, &node{typ: fsimage.TypeSymlink, mode: 0o777, target: strings.Clone(oldPath)})
}

func (o *overlay) Link(oldPath, newPath string) experimentalsys.Errno {
	o.mu.Lock()
	defer o.mu.Unlock()
	src, errno := o.existing(oldPath, false)
	if errno != 0 {
		return errno
	}
	if src.isDir() {
		return experimentalsys.EPERM
	}
	dst, errno := o.resolve(newPath, false)
	if errno != 0 {
		return errno
	}
	if dst.exists() {
		return experimentalsys.EEXIST
	}
	n, errno := o.upper(src)
	if errno != 0 {
		return errno
	}
	n.nlink++
	return o.create(dst, n)
}

// remove hides the entry r: a whiteout when a lower entry shows through,
// else the name is dropped. Callers hold o.mu for writing.
func (o *overlay) remove(r *ref) experimentalsys.Errno {
	parent, errno := o.upper(r.parent)
	if errno != 0 {
		return errno
	}
	if r.n != nil && r.n.nlink > 1 {
		r.n.nlink--
	} else if r.n != nil && r.n.typ == fsimage.TypeReg {
		r.n.nlink = 0
		if r.n.opens.Load() == 0 {
			o.chargeLocked(r.n.data.reset())
		}
	}
	o.dropName(parent, r)
	return 0
}

// dropName takes r's name out of its parent (a whiteout where a lower
// entry shows through) without touching what r's node is charged: Rename
// moves the node, whose data the run still holds. Callers hold o.mu for
// writing.
func (o *overlay) dropName(parent *node, r *ref) {
	name := r.base()
	lowerShows := r.parent.lowerVisible() && o.lower != nil
	if lowerShows {
		if e, ok := o.lower.Lookup(r.path()); ok && e.Type != fsimage.TypeWhiteout {
			o.setChild(parent, name, &node{typ: fsimage.TypeWhiteout})
			parent.mtime = o.now().UnixNano()
			return
		}
	}
	o.delChild(parent, name)
	parent.mtime = o.now().UnixNano()
}

// entryCost is what the host holds for a name in a directory of the
// writable layer: the map entry and node (about 160 bytes), the name and
// a symlink's target. --memory and a tmpfs size count it, so a box cannot
// take the host's memory with names, links and empty files.
func entryCost(name string, n *node) int64 {
	return 160 + int64(len(name)) + int64(len(n.target))
}

// setChild names n in parent, charging the entry (and giving back the
// one it replaces). Callers hold o.mu for writing.
func (o *overlay) setChild(parent *node, name string, n *node) experimentalsys.Errno {
	delta := entryCost(name, n)
	old, had := parent.children[name]
	if had {
		delta -= entryCost(name, old)
	}
	if !o.chargeLocked(delta) {
		return errNoSpace
	}
	parent.children[name] = n
	return 0
}

// delChild takes name out of parent and gives back its entry's charge.
// Callers hold o.mu for writing.
func (o *overlay) delChild(parent *node, name string) {
	if old, ok := parent.children[name]; ok {
		o.chargeLocked(-entryCost(name, old))
		delete(parent.children, name)
	}
}

func (o *overlay) Unlink(p string) experimentalsys.Errno {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, errno := o.existing(p, false)
	if errno != 0 {
		return errno
	}
	if r.isDir() {
		return experimentalsys.EISDIR
	}
	return o.remove(r)
}

func (o *overlay) Rmdir(p string) experimentalsys.Errno {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, errno := o.existing(p, false)
	if errno != 0 {
		return errno
	}
	if !r.isDir() {
		return experimentalsys.ENOTDIR
	}
	if r.parent == nil {
		return experimentalsys.EPERM
	}
	names, errno := o.names(r)
	if errno != 0 {
		return errno
	}
	if len(names) > 0 {
		return experimentalsys.ENOTEMPTY
	}
	return o.remove(r)
}

func (o *overlay) Rename(from, to string) experimentalsys.Errno {
	o.mu.Lock()
	defer o.mu.Unlock()
	src, errno := o.existing(from, false)
	if errno != 0 {
		return errno
	}
	if src.parent == nil {
		return experimentalsys.EPERM
	}
	dst, errno := o.resolve(to, false)
	if errno != 0 {
		return errno
	}
	if hasTrailingSlash(to) && !src.isDir() {
		return experimentalsys.ENOTDIR
	}
	if dst.path() == src.path() {
		return 0
	}
	if strings.HasPrefix(dst.path()+"/", src.path()+"/") {
		return experimentalsys.EINVAL
	}
	if dst.exists() {
		switch {
		case src.isDir() && !dst.isDir():
			return experimentalsys.ENOTDIR
		case !src.isDir() && dst.isDir():
			return experimentalsys.EISDIR
		case dst.isDir():
			names, errno := o.names(dst)
			if errno != 0 {
				return errno
			}
			if len(names) > 0 {
				return experimentalsys.ENOTEMPTY
			}
		}
	}
	n, errno := o.deepCopyUp(src)
	if errno != 0 {
		return errno
	}
	if dst.exists() {
		if errno := o.remove(dst); errno != 0 {
			return errno
		}
		dst = &ref{fullPath: dst.path(), parent: dst.parent}
	}
	if n.typ == fsimage.TypeDir {
		// Its contents now live entirely in the writable layer.
		n.opaque = true
	}
	// The new name is charged before the old one goes, so a rename the
	// run's limits refuse loses nothing.
	parent, errno := o.upper(dst.parent)
	if errno != 0 {
		return errno
	}
	if errno := o.setChild(parent, dst.base(), n); errno != 0 {
		return errno
	}
	parent.mtime = o.now().UnixNano()
	srcParent, errno := o.upper(src.parent)
	if errno != 0 {
		return errno
	}
	o.dropName(srcParent, src)
	return 0
}

// deepCopyUp copies r and, for a directory, everything below it into the
// writable layer, so it can move without its lower contents.
func (o *overlay) deepCopyUp(r *ref) (*node, experimentalsys.Errno) {
	n, errno := o.upper(r)
	if errno != 0 {
		return nil, errno
	}
	if n.typ != fsimage.TypeDir || !r.lowerVisible() {
		return n, 0
	}
	names, errno := o.names(r)
	if errno != 0 {
		return nil, errno
	}
	for _, name := range names {
		if _, errno := o.deepCopyUp(o.child(r, name)); errno != 0 {
			return nil, errno
		}
	}
	n.opaque = true
	return n, 0
}

// setAttr copies p up to the writable layer and changes its node with set.
func (o *overlay) setAttr(p string, follow bool, set func(*node)) experimentalsys.Errno {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, errno := o.resolve(p, follow)
	if errno != 0 {
		return errno
	}
	if !r.exists() {
		return experimentalsys.ENOENT
	}
	n, errno := o.upper(r)
	if errno != 0 {
		return errno
	}
	set(n)
	return 0
}

func (o *overlay) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	return o.setAttr(p, true, func(n *node) {
		n.mode = perm & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	})
}

// Lchown sets the owner of p, not following a final symlink. An id of
// -1 (all bits set) keeps the current one, as chown(2).
func (o *overlay) Lchown(p string, uid, gid uint32) experimentalsys.Errno {
	return o.setAttr(p, false, func(n *node) {
		if uid != ^uint32(0) {
			n.uid = uid
		}
		if gid != ^uint32(0) {
			n.gid = gid
		}
	})
}

func (o *overlay) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	return o.setAttr(p, true, func(n *node) { o.utimens(n, atim, mtim) })
}

func (o *overlay) utimens(n *node, atim, mtim int64) {
	if atim != experimentalsys.UTIME_OMIT {
		n.atime = atim
	}
	if mtim != experimentalsys.UTIME_OMIT {
		n.mtime = mtim
	}
}

// Uncreate removes the file or empty directory p that a caller placed for
// one run (a mount point, a secret), and gives back to the lower layers
// each ancestor that was copied up for it and holds no change of its own,
// so the writable layer keeps no trace of it.
func (o *overlay) Uncreate(p string) error {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return nil
	}
	if errno := o.Unlink(p); errno == experimentalsys.EISDIR {
		errno = o.Rmdir(p)
		if errno != 0 && errno != experimentalsys.ENOENT {
			return &fs.PathError{Op: "remove", Path: "/" + p, Err: errno}
		}
	} else if errno != 0 && errno != experimentalsys.ENOENT {
		return &fs.PathError{Op: "remove", Path: "/" + p, Err: errno}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		r, errno := o.resolve(dir, false)
		if errno != 0 || r.n == nil || r.parent == nil || r.parent.n == nil {
			return nil
		}
		n, e := r.n, r.lower
		if !r.lowerOK || e.Type != fsimage.TypeDir || n.typ != fsimage.TypeDir || n.opaque ||
			len(n.children) > 0 || n.mode != e.Mode || n.uid != e.UID || n.gid != e.GID {
			return nil
		}
		delete(r.parent.n.children, path.Base(dir))
	}
	return nil
}

// copyUp reads a lower file's content into n page by page, charging the
// run as it goes. Callers hold o.mu for writing.
func (o *overlay) copyUp(n *node, sr *io.SectionReader) experimentalsys.Errno {
	if sr.Size() > maxFileSize {
		return experimentalsys.EIO
	}
	if !o.chargeLocked(sr.Size()) {
		return errNoSpace
	}
	buf := make([]byte, min(sr.Size(), pageSize))
	for off := int64(0); off < sr.Size(); {
		k, err := sr.ReadAt(buf[:min(int64(len(buf)), sr.Size()-off)], off)
		if k == 0 && err != nil {
			o.chargeLocked(-sr.Size())
			return experimentalsys.EIO
		}
		n.data.writeAt(buf[:k], off)
		off += int64(k)
	}
	return 0
}
