package runtime

import (
	"testing"
	"time"
)

// The runs of one Box share what they know of its modules: the second run
// of a program does not read and hash it again (8 MB for python.wasm).
func TestBoxRunsShareModuleDigests(t *testing.T) {
	box := &Box{tree: lowerImage(t), digests: &moduleDigests{}}
	first := box.Overlay().fs
	r, errno := first.resolve("etc/hostname", true)
	if errno != 0 {
		t.Fatal(errno)
	}
	d := [32]byte{1, 2, 3}
	first.rememberDigest(r, d)

	second := box.Overlay().fs
	r2, _ := second.resolve("etc/hostname", true)
	if got, ok := second.digestFor(r2); !ok || got != d {
		t.Errorf("a second run of the box: digest %x, %v; want the first run's", got, ok)
	}
	// An overlay of its own (a build step's) starts empty.
	other := newOverlay(box.tree)
	r3, _ := other.resolve("etc/hostname", true)
	if _, ok := other.digestFor(r3); ok {
		t.Error("an overlay not made by the box knows its digests")
	}
	// A file of the writable layer may change: never remembered.
	if err := second.WriteFile("etc/hostname", []byte("new\n"), 0o644, 0, 0, time.Unix(200, 0)); err != nil {
		t.Fatal(err)
	}
	r4, _ := second.resolve("etc/hostname", true)
	second.rememberDigest(r4, d)
	if _, ok := second.digestFor(r4); ok {
		t.Error("a digest of the writable layer was remembered")
	}
}
