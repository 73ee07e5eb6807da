//go:build wasip1

package main

import (
	"io/fs"
	"os"
	"strings"

	"github.com/wasmbox/wasmbox/shims/busybox/applets"
	"github.com/wasmbox/wasmbox/shims/busybox/proc"
)

// installHooks points the applets' platform hooks at the box's metadata:
// WASI carries no modes or owners, the runner keeps them (ABI.md).
func installHooks() {
	applets.Chmod = func(name string, mode fs.FileMode) error {
		// Go's setuid/setgid/sticky bits, or POSIX ones in the low bits
		// (unused by fs.FileMode), whichever the caller used.
		return proc.Chmod(name, proc.PermBits(mode)|uint32(mode)&0o7000)
	}
	applets.Lchown = proc.Lchown
	applets.Stat = proc.FileStat
	applets.Lstat = proc.FileLstat
	applets.IDs = func() (uint32, uint32) {
		uid, gid, err := proc.IDs()
		if err != nil {
			return 0, 0 // an older runner: root, as before
		}
		return uid, gid
	}
	applets.Hostname = func() (string, bool) {
		b, err := os.ReadFile("/etc/hostname")
		if err != nil {
			return "", false
		}
		return strings.TrimSpace(string(b)), true
	}
}
