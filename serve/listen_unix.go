//go:build unix

package serve

import (
	"net"
	"syscall"
)

// listenPrivate listens on a Unix socket created with mode 0600 (no window
// in which another user could connect before a chmod).
func listenPrivate(path string) (net.Listener, error) {
	old := syscall.Umask(0o177)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
