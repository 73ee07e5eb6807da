//go:build wasip1

package shell

import (
	"context"
	"errors"
	"io/fs"

	"github.com/wasmbox/wasmbox/shims/busybox/proc"
	"mvdan.cc/sh/v3/interp"
)

func init() {
	platformOptions = append(platformOptions, interp.AccessHandler(accessHandler))
}

// accessHandler replaces the interpreter's fallback for systems without
// access(2), which checks the mode of a final symlink itself and the
// owner's bits only. A box runs as root, as access(2) sees it: reading and
// writing are always allowed, executing a file needs an execute bit.
func accessHandler(_ context.Context, path string, mode interp.AccessMode) error {
	fi, err := proc.FileStat(path)
	if err != nil {
		return err
	}
	m := fi.Mode()
	if mode&interp.AccessExec != 0 && m&0o111 == 0 && !m.IsDir() {
		return &fs.PathError{Op: "access", Path: path, Err: errors.New("permission denied")}
	}
	return nil
}
