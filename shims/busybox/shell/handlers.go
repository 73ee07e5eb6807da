package shell

import (
	"context"
	"io/fs"

	"github.com/wasmbox/wasmbox/shims/busybox/proc"
	"mvdan.cc/sh/v3/interp"
)

// statHandler is os.Stat/Lstat with the box's permission bits, so that
// test -x and friends see the modes the box keeps (WASI carries none).
// The interpreter always passes absolute paths.
func statHandler(_ context.Context, name string, follow bool) (fs.FileInfo, error) {
	if follow {
		return proc.FileStat(name)
	}
	return proc.FileLstat(name)
}

// platformOptions are interpreter options for this GOOS only.
var platformOptions []interp.RunnerOption
