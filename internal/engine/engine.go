// Package engine is the build side of a box's file system: what the
// builder (convert) does to a runtime.Overlay between runs (writing files
// with owners and times, removing what a RUN mount placed, turning the
// writable layer into a layer), kept out of runtime's public API. runtime
// registers the conversion at init; Of is how convert reaches it.
package engine

import (
	"fmt"
	"io"
	"io/fs"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// FS is a runtime.Overlay's full file system.
type FS interface {
	experimentalsys.FS

	// Lchown sets the owner of p, not following a final symlink.
	Lchown(p string, uid, gid uint32) experimentalsys.Errno
	// MkdirAll makes directory p and its missing parents.
	MkdirAll(p string, perm fs.FileMode) error
	// ReadFile returns the contents of file p, following symlinks.
	ReadFile(p string) ([]byte, error)
	// WriteFile creates or replaces file p with data, mode perm, owner
	// uid:gid and, unless zero, modification time mtime.
	WriteFile(p string, data []byte, perm fs.FileMode, uid, gid uint32, mtime time.Time) error
	// Uncreate removes the file or empty directory p placed for one run
	// (a mount point, a secret) so that the writable layer keeps no trace
	// of it.
	Uncreate(p string) error
	// SetOwner makes uid:gid own what runs create from now on.
	SetOwner(uid, gid uint32)
	// SetCapacity bounds the file data the writable layer holds; Full
	// reports that a write reached it.
	SetCapacity(size int64)
	Full() bool
	// WriteLayer writes what the writable layer changed as an fsimage
	// layer to w, clamping times after clamp (unless zero), and returns
	// the number of entries (0: nothing changed).
	WriteLayer(w io.Writer, clamp time.Time) (int, error)
	// LookPath resolves a command name through PATH of env inside the box.
	LookPath(name string, env []string, dir string) (string, error)
}

var unwrap func(any) (FS, bool)

// Register sets how Of reaches the file system of a runtime.Overlay.
// runtime calls it once, at init.
func Register(f func(any) (FS, bool)) { unwrap = f }

// Of returns the file system of ov, a *runtime.Overlay.
func Of(ov any) FS {
	if unwrap == nil {
		panic("engine: runtime is not linked in")
	}
	fs, ok := unwrap(ov)
	if !ok {
		panic(fmt.Sprintf("engine: %T is not a *runtime.Overlay", ov))
	}
	return fs
}
