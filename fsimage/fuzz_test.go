package fsimage

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"testing"
)

// FuzzOpen feeds Open valid images, damaged ones and whatever the fuzzer
// makes of them. Open must never panic; an image it accepts must survive a
// full walk (Lookup, Children, Content, the FS view, a Stack of it) and must
// be canonical: writing its entries again gives back the same bytes.
//
// Each input is tried twice: as is, and with the footer's checksum
// recomputed, so that the fuzzer reaches the index checks behind it.
func FuzzOpen(f *testing.F) {
	seeds := [][]byte{
		build(f),
		corpus(f),
		build(f, rootfs()...),
		build(f, reg("a", 0o644, "x"), hardlink("b", "a"), whiteout("c"), opaque("d"), symlink("d/e", "../../../a")),
		build(f, symlink("a", "b"), symlink("b", "a"), symlink("c", "c/d"), dir("x", 0o755), symlink("x/y", "/x/y/z")),
	}
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)-1])
		f.Add(s[:len(s)/2])
		for _, i := range []int{0, 8, 12, headerSize, len(s) - footerSize, len(s) - footerSize + 8, len(s) - footerSize + 16, len(s) - 40, len(s) - 60} {
			if i >= 0 && i < len(s) {
				d := bytes.Clone(s)
				d[i] ^= 0x81
				f.Add(d)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkImage(t, data)
		if fixed, ok := fixChecksum(data); ok {
			checkImage(t, fixed)
		}
	})
}

// fixChecksum returns data with the footer's index checksum recomputed, if
// the footer points at a plausible index.
func fixChecksum(data []byte) ([]byte, bool) {
	n := uint64(len(data))
	if n < headerSize+footerSize {
		return nil, false
	}
	ftr := data[n-footerSize:]
	off, length := le.Uint64(ftr[0:]), le.Uint64(ftr[8:])
	if off > n-footerSize || length > n-footerSize-off {
		return nil, false
	}
	b := bytes.Clone(data)
	le.PutUint32(b[n-footerSize+16:], crc32.Checksum(b[off:off+length], castagnoli))
	return b, true
}

func checkImage(t *testing.T, data []byte) {
	img, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open error %v does not match ErrCorrupt", err)
		}
		return
	}
	entries := img.Entries()
	for _, e := range entries {
		got, ok := img.Lookup(e.Path)
		if !ok || got != e {
			t.Fatalf("Lookup(%q) = %+v, %v; want %+v", e.Path, got, ok, e)
		}
		switch e.Type {
		case TypeDir:
			if _, err := img.Children(e.Path); err != nil {
				t.Fatalf("Children(%q): %v", e.Path, err)
			}
		case TypeReg, TypeHardlink:
			sr, err := img.Content(e.Path)
			if err != nil {
				t.Fatalf("Content(%q): %v", e.Path, err)
			}
			if n, err := io.Copy(io.Discard, sr); err != nil || n != e.Size {
				t.Fatalf("reading Content(%q) = %d bytes, %v; want %d", e.Path, n, err, e.Size)
			}
		}
	}
	if got := rewrite(t, img); !bytes.Equal(got, data) {
		t.Fatalf("image is not canonical: rewriting its %d entries gives %d bytes, not the same %d", len(entries), len(got), len(data))
	}
	walkFS(t, FS(img))
	walkFS(t, FS(Stack(img, img)))
}

// walkFS visits every name of fsys and uses each method on it; errors are
// fine (dangling links, loops), panics are not.
func walkFS(t *testing.T, fsys FileSystem) {
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fsys.Stat(p)
		fsys.Lstat(p)
		fsys.ReadLink(p)
		if d.IsDir() {
			if _, err := fsys.ReadDir(p); err != nil {
				t.Fatalf("ReadDir(%q): %v", p, err)
			}
			return nil
		}
		if b, err := fsys.ReadFile(p); err == nil {
			if f, err := fsys.Open(p); err == nil {
				got, _ := io.ReadAll(f)
				f.Close()
				if !bytes.Equal(got, b) {
					t.Fatalf("Open+ReadAll(%q) differs from ReadFile", p)
				}
			}
		}
		fsys.Open(p + "/x")
		return nil
	})
	if err != nil {
		t.Fatalf("WalkDir: %v", err)
	}
}
