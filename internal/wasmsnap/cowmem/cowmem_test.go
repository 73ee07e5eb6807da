//go:build unix

package cowmem

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const page = 65536

func image(t *testing.T, data []byte) *Image {
	t.Helper()
	f := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	im, err := Open(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	return im
}

func TestMemory(t *testing.T) {
	data := bytes.Repeat([]byte("snapshot"), 2*page/8)
	im := image(t, data)
	if im.Size() != len(data) {
		t.Fatalf("size %d, want %d", im.Size(), len(data))
	}
	a := im.Allocator().Allocate(2*page, 4*page)
	b := im.Allocator().Allocate(2*page, 4*page)
	defer a.Free()
	defer b.Free()
	ma, mb := a.Reallocate(2*page), b.Reallocate(2*page)
	if !bytes.Equal(ma, data) || !bytes.Equal(mb, data) {
		t.Fatal("a new memory does not hold the image")
	}
	copy(ma, "written")
	if !bytes.Equal(mb, data) {
		t.Fatal("a write to one memory reached another")
	}
	// Growing keeps the address and the contents, and adds zeros.
	grown := a.Reallocate(3 * page)
	if len(grown) != 3*page || &grown[0] != &ma[0] || string(grown[:7]) != "written" {
		t.Fatal("growing moved or lost the memory")
	}
	if !bytes.Equal(grown[2*page:], make([]byte, page)) {
		t.Fatal("grown pages are not zero")
	}
	grown[3*page-1] = 1
	if a.Reallocate(5*page) != nil {
		t.Fatal("grew past the maximum")
	}
	if a.Reallocate(page) != nil {
		t.Fatal("a memory smaller than the image")
	}
	a.Free()
	a.Free() // twice is harmless
	if f, _ := os.ReadFile(im.f.Name()); !bytes.Equal(f, data) {
		t.Fatal("the image file changed")
	}
}

func TestOpenRejects(t *testing.T) {
	f := filepath.Join(t.TempDir(), "odd")
	if err := os.WriteFile(f, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f); err == nil || !strings.Contains(err.Error(), "not a whole number of pages") {
		t.Fatalf("a 100-byte image: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Fatalf("a missing image: %v", err)
	}
}
