package runtime

import (
	"testing"
	"unsafe"
)

// Cases found by CPython's regression suite (make conformance).

func TestOverlaySymlinkKeepsItsTarget(t *testing.T) {
	o := NewOverlay(lowerImage(t))
	// wazero passes the target as a string over guest memory; the guest
	// then reuses that memory.
	buf := []byte("/etc/hostname")
	if errno := o.Symlink(unsafe.String(&buf[0], len(buf)), "link"); errno != 0 {
		t.Fatal(errno)
	}
	copy(buf, "XXXXXXXXXXXXX")
	if got, errno := o.Readlink("link"); errno != 0 || got != "/etc/hostname" {
		t.Errorf("readlink: %q, %v; want /etc/hostname", got, errno)
	}
	if got := read(t, o, "link"); got != "box\n" {
		t.Errorf("through the link: %q", got)
	}
}
