package runtime

import (
	"io/fs"
	"os"
	"strings"

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
