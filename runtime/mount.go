package runtime

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// A Volume is what a Mount shows in a box: a host directory (OpenHostDir),
// an Overlay (newOverlay(nil) is an empty in-memory directory, a tmpfs), or
// a directory inside one of those (Sub).
type Volume interface {
	volumeFS() experimentalsys.FS
}

// Mount shows a Volume at Target, an absolute directory path in the box.
// The box reaches the volume only below Target; with ReadOnly every write
// fails with EROFS.
type Mount struct {
	Target   string
	Volume   Volume
	ReadOnly bool
}

func (o *Overlay) volumeFS() experimentalsys.FS { return o.fs }

// HostDir is a host directory opened for mounting into boxes. It is
// reached only through an os.Root, so nothing the box does ("..",
// absolute or relative symlinks, hard links it makes) leads outside it.
type HostDir struct {
	h *hostDir
}

// OpenHostDir opens dir (which must exist and be a directory) for mounting.
// Close it when the runs using it are done.
func OpenHostDir(dir string) (*HostDir, error) {
	h, err := openHostDir(dir)
	if err != nil {
		return nil, err
	}
	return &HostDir{h: h}, nil
}

// Close releases the directory.
func (d *HostDir) Close() error { return d.h.Close() }

func (d *HostDir) volumeFS() experimentalsys.FS { return d.h }

// Sub is the directory dir (relative to the volume's root) of v. Paths
// below it stay below it: ".." stops there.
func Sub(v Volume, dir string) Volume {
	dir = rel(dir)
	if dir == "." {
		return v
	}
	return subVolume{fs: v.volumeFS(), dir: dir}
}

type subVolume struct {
	fs  experimentalsys.FS
	dir string
}

func (s subVolume) volumeFS() experimentalsys.FS { return &subFS{fs: s.fs, dir: s.dir} }

// subFS prefixes every path with dir; rel() has cleaned away any "..".
type subFS struct {
	experimentalsys.UnimplementedFS
	fs  experimentalsys.FS
	dir string
}

func (s *subFS) p(name string) string { return path.Join(s.dir, rel(name)) }

func (s *subFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	return s.fs.OpenFile(s.p(p), flag, perm)
}
func (s *subFS) Lstat(p string) (wazerosys.Stat_t, experimentalsys.Errno) { return s.fs.Lstat(s.p(p)) }
func (s *subFS) Stat(p string) (wazerosys.Stat_t, experimentalsys.Errno)  { return s.fs.Stat(s.p(p)) }
func (s *subFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	return s.fs.Mkdir(s.p(p), perm)
}
func (s *subFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	return s.fs.Chmod(s.p(p), perm)
}
func (s *subFS) Rename(from, to string) experimentalsys.Errno {
	return s.fs.Rename(s.p(from), s.p(to))
}
func (s *subFS) Rmdir(p string) experimentalsys.Errno  { return s.fs.Rmdir(s.p(p)) }
func (s *subFS) Unlink(p string) experimentalsys.Errno { return s.fs.Unlink(s.p(p)) }
func (s *subFS) Link(oldPath, newPath string) experimentalsys.Errno {
	return s.fs.Link(s.p(oldPath), s.p(newPath))
}
func (s *subFS) Symlink(oldPath, linkName string) experimentalsys.Errno {
	return s.fs.Symlink(oldPath, s.p(linkName))
}
func (s *subFS) Readlink(p string) (string, experimentalsys.Errno) { return s.fs.Readlink(s.p(p)) }
func (s *subFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	return s.fs.Utimens(s.p(p), atim, mtim)
}

// readOnlyFS refuses every change with EROFS.
type readOnlyFS struct {
	experimentalsys.FS
}

func (r readOnlyFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0 {
		if flag&experimentalsys.O_CREAT != 0 {
			if _, errno := r.FS.Lstat(p); errno == experimentalsys.ENOENT {
				return nil, experimentalsys.EROFS
			}
		}
		if st, errno := r.FS.Stat(p); errno == 0 && st.Mode.IsDir() {
			return nil, experimentalsys.EISDIR
		} else if errno != 0 && flag&experimentalsys.O_CREAT == 0 {
			return nil, errno
		}
		return nil, experimentalsys.EROFS
	}
	f, errno := r.FS.OpenFile(p, flag, perm)
	if errno != 0 {
		return nil, errno
	}
	return readOnlyFile{f}, 0
}

func (readOnlyFS) Mkdir(string, fs.FileMode) experimentalsys.Errno { return experimentalsys.EROFS }
func (readOnlyFS) Chmod(string, fs.FileMode) experimentalsys.Errno { return experimentalsys.EROFS }
func (readOnlyFS) Rename(string, string) experimentalsys.Errno     { return experimentalsys.EROFS }
func (readOnlyFS) Rmdir(string) experimentalsys.Errno              { return experimentalsys.EROFS }
func (readOnlyFS) Unlink(string) experimentalsys.Errno             { return experimentalsys.EROFS }
func (readOnlyFS) Link(string, string) experimentalsys.Errno       { return experimentalsys.EROFS }
func (readOnlyFS) Symlink(string, string) experimentalsys.Errno    { return experimentalsys.EROFS }
func (readOnlyFS) Utimens(string, int64, int64) experimentalsys.Errno {
	return experimentalsys.EROFS
}

type readOnlyFile struct {
	experimentalsys.File
}

func (readOnlyFile) SetAppend(bool) experimentalsys.Errno      { return experimentalsys.EBADF }
func (readOnlyFile) Write([]byte) (int, experimentalsys.Errno) { return 0, experimentalsys.EBADF }
func (readOnlyFile) Pwrite([]byte, int64) (int, experimentalsys.Errno) {
	return 0, experimentalsys.EBADF
}
func (readOnlyFile) Truncate(int64) experimentalsys.Errno       { return experimentalsys.EBADF }
func (readOnlyFile) Utimens(int64, int64) experimentalsys.Errno { return experimentalsys.EROFS }

// namespace is what a process sees: the box's overlay at / and the mounts
// above it (nsfs.go resolves paths in it).
type namespace struct {
	root     *overlay
	readOnly bool         // the root refuses writes (run --read-only)
	mounts   []mountPoint // longest target first
	// files are single files shown over the root (/etc/hostname), by
	// path relative to the root.
	files map[string]experimentalsys.FS
	// mu makes resolving a path and using it one step for the box's
	// processes: calls that change names hold it exclusively.
	mu sync.RWMutex
}

// rootFS is the box's own file system, without the mounts and single
// files shown over it.
func (ns *namespace) rootFS() experimentalsys.FS {
	if ns.readOnly {
		return readOnlyFS{ns.root}
	}
	return ns.root
}

type mountPoint struct {
	target string // clean, absolute, not "/"
	fs     experimentalsys.FS
}

func newNamespace(root *overlay, mounts []Mount) (*namespace, error) {
	ns := &namespace{root: root}
	seen := map[string]bool{}
	for _, m := range mounts {
		t := m.Target
		if !path.IsAbs(t) {
			return nil, fmt.Errorf("mount target %q: not an absolute path", t)
		}
		t = path.Clean(t)
		if t == "/" {
			return nil, fmt.Errorf("mount target %q: the box's root cannot be replaced", m.Target)
		}
		if seen[t] {
			return nil, fmt.Errorf("mount target %q: mounted twice", t)
		}
		seen[t] = true
		if m.Volume == nil {
			return nil, fmt.Errorf("mount target %q: no volume", t)
		}
		var f experimentalsys.FS = m.Volume.volumeFS()
		if m.ReadOnly {
			f = readOnlyFS{f}
		}
		ns.mounts = append(ns.mounts, mountPoint{target: t, fs: f})
	}
	sort.SliceStable(ns.mounts, func(i, j int) bool { return len(ns.mounts[i].target) > len(ns.mounts[j].target) })
	return ns, nil
}

// route finds the file system holding the absolute path p, taken as it
// is (resolve follows the links on the way): the mount whose target is
// the longest prefix of p at a "/" boundary, else the overlay.
func (ns *namespace) route(p string) loc {
	p = path.Clean("/" + p)
	if f, ok := ns.files[rel(p)]; ok {
		if ns.root.trace != nil {
			ns.root.trace.look(rel(p))
		}
		return loc{mount: fileMount, fsys: f, rel: rel(p), path: p}
	}
	for i, m := range ns.mounts {
		if p == m.target || strings.HasPrefix(p, m.target+"/") {
			return loc{mount: i, fsys: m.fs, rel: rel(strings.TrimPrefix(p, m.target)), path: p}
		}
	}
	return loc{mount: rootMount, fsys: ns.rootFS(), rel: rel(p), path: p}
}

// Stat stats the absolute path p, following symlinks.
func (ns *namespace) Stat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	return nsFS{ns: ns}.Stat(p)
}

// makeMountPoints creates the mount targets missing in the overlay, as
// directories (so listings show them), and returns a func that removes
// those it created, when they are still empty there: a build's layer
// keeps no trace of a RUN's mounts.
func (ns *namespace) makeMountPoints() (cleanup func()) {
	var created []string
	for i := len(ns.mounts) - 1; i >= 0; i-- {
		t := ns.mounts[i].target
		// Create each missing ancestor, remembering it.
		parts := splitPath(t)
		for j := range parts {
			p := strings.Join(parts[:j+1], "/")
			if _, errno := ns.root.Lstat(p); errno == experimentalsys.ENOENT {
				if ns.root.Mkdir(p, 0o755) == 0 {
					created = append(created, p)
				}
			}
		}
	}
	// A target below a link of the box's tree is where the link leads, as
	// a kernel mounts it (/var/run/x with /var/run -> /run is /run/x): the
	// namespace resolves paths through the link to there.
	ns.root.mu.RLock()
	for i := range ns.mounts {
		if r, errno := ns.root.resolve(ns.mounts[i].target, true); errno == 0 && r.path() != "." {
			ns.mounts[i].target = "/" + r.path()
		}
	}
	ns.root.mu.RUnlock()
	sort.SliceStable(ns.mounts, func(i, j int) bool { return len(ns.mounts[i].target) > len(ns.mounts[j].target) })
	return func() {
		for i := len(created) - 1; i >= 0; i-- {
			if st, errno := ns.root.Lstat(created[i]); errno == 0 && st.Mode.IsDir() {
				ns.root.Uncreate(created[i]) // fails, as it should, when not empty
			}
		}
	}
}

// guestView is a file system as a guest's WASI calls reach it. WASI has no
// file modes, and wazero creates every file 0600 and every directory 0700;
// a Linux process with the usual umask 022 gets 0644 and 0755, which is
// what programs (and the layers a build makes of their files) expect. The
// shell's chmod, mkdir -m and install set other modes through the process
// ABI afterwards.
type guestView struct {
	experimentalsys.FS
	rs *runState
}

func (g guestView) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if flag&experimentalsys.O_CREAT != 0 {
		perm = 0o644
	}
	if g.rs == nil || g.rs.limits.Files <= 0 {
		return g.FS.OpenFile(p, flag, perm)
	}
	// Every open counts against Limits.Files until its close, across the
	// run's processes: one box cannot use the runner's descriptor table.
	if lim := int64(g.rs.limits.Files); g.rs.files.Add(1) > lim {
		g.rs.files.Add(-1)
		g.rs.end(CauseFileLimit, fmt.Sprintf("open file limit of %d reached", lim))
		return nil, experimentalsys.EIO
	}
	f, errno := g.FS.OpenFile(p, flag, perm)
	if errno != 0 {
		g.rs.files.Add(-1)
		return nil, errno
	}
	if pf, ok := f.(experimentalsys.PollableFile); ok {
		return &countedPollableFile{countedFile: countedFile{File: f, rs: g.rs}, pf: pf}, 0
	}
	return &countedFile{File: f, rs: g.rs}, 0
}

// countedFile gives back its count of Limits.Files at its first Close.
type countedFile struct {
	experimentalsys.File
	rs     *runState
	closed atomic.Bool
}

func (f *countedFile) Close() experimentalsys.Errno {
	if !f.closed.Swap(true) {
		f.rs.files.Add(-1)
	}
	return f.File.Close()
}

// countedPollableFile keeps what wazero asks of a pollable file.
type countedPollableFile struct {
	countedFile
	pf experimentalsys.PollableFile
}

func (f *countedPollableFile) IsNonblock() bool { return f.pf.IsNonblock() }
func (f *countedPollableFile) SetNonblock(on bool) experimentalsys.Errno {
	return f.pf.SetNonblock(on)
}
func (f *countedPollableFile) Poll(flag experimentalsys.Pflag, timeoutMillis int32) (bool, experimentalsys.Errno) {
	return f.pf.Poll(flag, timeoutMillis)
}

func (g guestView) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	return g.FS.Mkdir(p, 0o755)
}

// SetCapacity bounds the bytes of file data the writable layer of o may
// hold (0: no bound but a run's memory limit); a write past it fails
// (EIO, as a full tmpfs). A build bounds the layer of a COPY or ADD so.
func (o *overlay) SetCapacity(size int64) {
	o.mu.Lock()
	o.capacity = size
	o.mu.Unlock()
}

// Full reports whether the writable layer reached its capacity.
func (o *overlay) Full() bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.capacity > 0 && o.used >= o.capacity-pageSize
}

// newTmpfs is NewTmpfs's overlay.
func newTmpfs(size int64) *overlay {
	o := newOverlay(nil)
	o.capacity = size
	return o
}
