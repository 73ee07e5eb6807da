//go:build !unix

package serve

import "net"

// listenPrivate listens on a Unix socket; ListenUnix then sets its mode.
func listenPrivate(path string) (net.Listener, error) {
	return net.Listen("unix", path)
}
