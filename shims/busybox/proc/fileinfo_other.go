//go:build !wasip1

package proc

// withSys leaves sys alone: outside wasip1 os reports the real owner and
// link count.
func withSys(sys any, _ Attr) any { return sys }
