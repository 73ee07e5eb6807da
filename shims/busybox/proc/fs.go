package proc

import (
	"io/fs"
	"path/filepath"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/shims/abi"
)

// Attr is the box's metadata of a file.
type Attr struct {
	// Mode is a POSIX st_mode: type bits and permission bits.
	Mode  uint32
	UID   uint32
	GID   uint32
	Nlink uint32
}

// FileMode converts a.Mode to an fs.FileMode.
func (a Attr) FileMode() fs.FileMode { return fsimage.GoMode(a.Mode) }

// PermBits converts the permission part of an fs.FileMode (permission,
// setuid, setgid and sticky bits) to POSIX bits, as Chmod takes them.
func PermBits(m fs.FileMode) uint32 { return fsimage.UnixMode(m) & 0o7777 }

// Chmod sets the permission bits (mode & 07777, POSIX numbering) of a box
// path, following symlinks. A relative path is made absolute against the
// process's working directory.
func Chmod(path string, mode uint32) error {
	abs, err := absPath("chmod", path)
	if err != nil {
		return err
	}
	return pathErr("chmod", path, sys.chmod(abs, mode&0o7777))
}

// Lchown sets the owner of a box path without following a final symlink.
func Lchown(path string, uid, gid int) error {
	abs, err := absPath("lchown", path)
	if err != nil {
		return err
	}
	if uid < 0 || gid < 0 {
		// The ABI has no "leave unchanged"; keep the current owner.
		a, err := Lstat(abs)
		if err != nil {
			return err
		}
		if uid < 0 {
			uid = int(a.UID)
		}
		if gid < 0 {
			gid = int(a.GID)
		}
	}
	return pathErr("lchown", path, sys.lchown(abs, uint32(uid), uint32(gid)))
}

// Stat returns the box's metadata of path, following symlinks.
func Stat(path string) (Attr, error) { return stat("stat", path, true) }

// Lstat returns the box's metadata of path, not following a final symlink.
func Lstat(path string) (Attr, error) { return stat("lstat", path, false) }

func stat(op, path string, follow bool) (Attr, error) {
	abs, err := absPath(op, path)
	if err != nil {
		return Attr{}, err
	}
	var out [abi.StatSize]byte
	if err := pathErr(op, path, sys.stat(abs, follow, &out)); err != nil {
		return Attr{}, err
	}
	return Attr(abi.DecodeStat(out)), nil
}

func absPath(op, path string) (string, error) {
	if path == "" {
		return "", &fs.PathError{Op: op, Path: path, Err: ENOENT}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: path, Err: err}
	}
	return abs, nil
}

func pathErr(op, path string, e Errno) error {
	if e == 0 {
		return nil
	}
	return &fs.PathError{Op: op, Path: path, Err: e}
}
