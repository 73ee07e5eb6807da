//go:build unix

package cowmem

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
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
		t.Fatal("a memory shrank")
	}
	// A module's minimum below the image: the image shows as it grows.
	c := im.Allocator().Allocate(page, 4*page)
	defer c.Free()
	if mc := c.Reallocate(page); !bytes.Equal(mc, data[:page]) {
		t.Fatal("a memory below the image does not hold its start")
	}
	if mc := c.Reallocate(2 * page); !bytes.Equal(mc, data) {
		t.Fatal("growing to the image does not show it")
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

func TestLoad(t *testing.T) {
	data := bytes.Repeat([]byte("verified"), page/8)
	sum := sha256.Sum256(data)
	im, err := Load(bytes.NewReader(data), page, sum)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	m := im.Allocator().Allocate(page, 2*page)
	defer m.Free()
	b := m.Reallocate(page)
	if !bytes.Equal(b, data) {
		t.Fatal("the memory does not hold the image")
	}
	copy(b, "written") // private: allowed on the sealed file
	if b2 := im.Allocator().Allocate(page, page).Reallocate(page); !bytes.Equal(b2, data) {
		t.Fatal("a write reached the image")
	}
	if runtime.GOOS == "linux" {
		if _, err := im.f.WriteAt([]byte("x"), 0); err == nil {
			t.Fatal("the sealed image took a write")
		}
	}
	bad := bytes.Clone(data)
	bad[100] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		size int64
		want string
	}{
		{"tampered", bad, page, "digest is sha256:"},
		{"truncated", data[:page-1], page, "has 65535 bytes, want 65536"},
		{"longer", append(bytes.Clone(data), 0), page, "has 65537 bytes, want 65536"},
		{"odd size", data[:100], 100, "not a whole number of pages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load(bytes.NewReader(tc.data), tc.size, sum); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
