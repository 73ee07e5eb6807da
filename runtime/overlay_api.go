package runtime

import (
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/engine"
)

// Overlay is the file system of one box run: read-only layers below (an
// fsimage.Tree, usually a stack of layers) and a writable layer above that
// lives in memory. Every process of the run (the command and the children it
// spawns) shares it. Nothing of the host is reachable through it: paths are
// resolved inside the tree, symlinks included.
//
// A caller prepares a run's files with WriteFile, MkdirAll and Symlink, and
// reads what it left with ReadFile. Paths are box paths: absolute, or
// relative to the box's root.
type Overlay struct{ fs *overlay }

// NewOverlay returns a writable overlay over lower. lower may be nil for an
// empty file system.
func NewOverlay(lower fsimage.Tree) *Overlay { return &Overlay{newOverlay(lower)} }

// NewTmpfs returns an empty in-memory directory to mount, holding at most
// size bytes of file data (0: no bound but the run's memory limit).
func NewTmpfs(size int64) *Overlay { return &Overlay{newTmpfs(size)} }

// ReadFile returns the contents of the box file name, following symlinks.
func (o *Overlay) ReadFile(name string) ([]byte, error) { return o.fs.ReadFile(name) }

// WriteFile creates or replaces the regular file name with data and mode
// perm, as os.WriteFile does; its directory must exist. The file belongs to
// root.
func (o *Overlay) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return o.fs.WriteFile(name, data, perm, 0, 0, o.fs.now())
}

// MkdirAll makes directory name and its missing parents, as os.MkdirAll
// does, following symlinks.
func (o *Overlay) MkdirAll(name string, perm fs.FileMode) error { return o.fs.MkdirAll(name, perm) }

// Symlink makes name a symbolic link to target, as os.Symlink does.
func (o *Overlay) Symlink(target, name string) error {
	name = strings.TrimPrefix(name, "/")
	if errno := o.fs.Symlink(target, name); errno != 0 {
		return &os.LinkError{Op: "symlink", Old: target, New: "/" + name, Err: errno}
	}
	return nil
}

// SetCapacity bounds the bytes of file data o's writable layer may hold
// across every run on it (0, the default: no bound but each run's memory
// limit, which counts only what that run writes); a write past it fails,
// as on a full tmpfs. An overlay that lasts across runs (a session) wants
// one.
func (o *Overlay) SetCapacity(bytes int64) { o.fs.SetCapacity(bytes) }

// LookPath resolves a command name as Run does for Args[0]: through PATH
// of env (DefaultPath if unset) inside the box, relative to dir.
func (o *Overlay) LookPath(name string, env []string, dir string) (string, error) {
	return o.fs.LookPath(name, env, dir)
}

func init() {
	engine.Register(func(v any) (engine.FS, bool) {
		o, ok := v.(*Overlay)
		if !ok || o == nil {
			return nil, false
		}
		return o.fs, true
	})
}

// ReadDir lists the directory name, sorted by file name, as os.ReadDir
// does, following symlinks to it.
func (o *Overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	p := strings.Trim(name, "/")
	if p == "" {
		p = "."
	}
	f, errno := o.fs.OpenFile(p, experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	if errno != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errno}
	}
	defer f.Close()
	ents, errno := f.Readdir(-1)
	if errno != 0 {
		return nil, &fs.PathError{Op: "readdirent", Path: name, Err: errno}
	}
	out := make([]fs.DirEntry, 0, len(ents))
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." {
			continue
		}
		out = append(out, dirEntry{o: o.fs, path: path.Join(p, e.Name), name: e.Name, typ: e.Type.Type()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// dirEntry is an entry ReadDir lists; Info stats it then.
type dirEntry struct {
	o          *overlay
	path, name string
	typ        fs.FileMode
}

func (d dirEntry) Name() string      { return d.name }
func (d dirEntry) IsDir() bool       { return d.typ.IsDir() }
func (d dirEntry) Type() fs.FileMode { return d.typ }
func (d dirEntry) Info() (fs.FileInfo, error) {
	st, errno := d.o.Lstat(d.path)
	if errno != 0 {
		return nil, &fs.PathError{Op: "lstat", Path: "/" + d.path, Err: errno}
	}
	return fileInfo{name: d.name, st: st}, nil
}

// fileInfo is a box file's fs.FileInfo.
type fileInfo struct {
	name string
	st   wazerosys.Stat_t
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.st.Size }
func (fi fileInfo) Mode() fs.FileMode  { return fi.st.Mode }
func (fi fileInfo) ModTime() time.Time { return time.Unix(0, fi.st.Mtim) }
func (fi fileInfo) IsDir() bool        { return fi.st.Mode.IsDir() }
func (fi fileInfo) Sys() any           { return nil }
