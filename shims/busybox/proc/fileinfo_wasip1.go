//go:build wasip1

package proc

import "syscall"

// withSys returns a copy of the *syscall.Stat_t sys with the box's owner
// and link count.
func withSys(sys any, a Attr) any {
	st, ok := sys.(*syscall.Stat_t)
	if !ok || st == nil {
		return sys
	}
	c := *st
	c.Uid, c.Gid, c.Nlink = a.UID, a.GID, uint64(a.Nlink)
	return &c
}
