package fsimage

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"strings"
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
	good := corpus(f)
	for _, c := range corruptions() {
		f.Add(c.apply(f, good))
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

// FuzzStack builds layers from a small script, one entry a line:
//
//	<layer 0-2><type> <path>[ <target>]
//
// with type f (file, content = path), d (dir), o (opaque dir), l (symlink),
// h (hard link) or w (whiteout). Entries the Writer rejects are skipped.
// Whatever the Writer accepts, Open must accept and read back the same;
// the Stack of the layers must agree with itself (Lookup and Children) and
// its FS view must resolve every name without panicking.
func FuzzStack(f *testing.F) {
	f.Add("0f a/b\n0d c\n1w a\n1f c/x\n2o c\n2f c/y\n")
	f.Add("0l a ../../b\n0f b\n0l c /a\n1l d d\n1l e c/../../b\n2h g b\n0h g b")
	f.Add("0f usr/lib/x\n0h usr/bin/y usr/lib/x\n1f usr\n2d usr\n2f usr/z\n1w usr/lib\n0o .\n2o .")
	f.Add("0l x /x/y/z\n0l y x/..\n0l z y/./x\n1d y\n1l y/q ../z")
	f.Fuzz(func(t *testing.T, script string) {
		var writers [3]*Writer
		for i := range writers {
			writers[i] = NewWriter()
		}
		for _, line := range strings.Split(script, "\n") {
			if len(line) < 4 || line[0] < '0' || line[0] > '2' || line[2] != ' ' {
				continue
			}
			w := writers[line[0]-'0']
			p, target, _ := strings.Cut(line[3:], " ")
			e := Entry{Path: p, Mode: 0o755, ModTime: t0}
			var data []byte
			switch line[1] {
			case 'f':
				e.Type, data = TypeReg, []byte(p)
			case 'd':
				e.Type = TypeDir
			case 'o':
				e.Type, e.Opaque = TypeDir, true
			case 'l':
				e.Type, e.Linkname = TypeSymlink, target
			case 'h':
				e.Type, e.Linkname = TypeHardlink, target
			case 'w':
				e.Type = TypeWhiteout
			default:
				continue
			}
			w.AddBytes(e, data) // errors: the entry is skipped
		}
		var layers []Tree
		for _, w := range writers {
			var buf bytes.Buffer
			if _, err := w.WriteTo(&buf); err != nil {
				continue
			}
			img, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatalf("Open of the Writer's output: %v", err)
			}
			if got := rewrite(t, img); !bytes.Equal(got, buf.Bytes()) {
				t.Fatal("Writer output is not canonical")
			}
			layers = append(layers, img)
		}
		s := Stack(layers...)
		var walk func(dir string)
		walk = func(dir string) {
			kids, err := s.Children(dir)
			if err != nil {
				t.Fatalf("Children(%q): %v", dir, err)
			}
			for _, k := range kids {
				if got, ok := s.Lookup(k.Path); !ok || got != k {
					t.Fatalf("Children(%q) lists %+v, Lookup gives %+v, %v", dir, k, got, ok)
				}
				if k.Type == TypeWhiteout || k.Opaque {
					t.Fatalf("Children(%q) lists %+v", dir, k)
				}
				if k.Type == TypeDir {
					walk(k.Path)
				}
			}
		}
		if len(layers) > 0 {
			walk(".")
		}
		// Every path a layer holds that the Stack shows must be listed
		// by its parent.
		for _, l := range layers {
			for _, e := range l.(*Image).Entries() {
				if e.Path == "." {
					continue
				}
				if _, ok := s.Lookup(e.Path); !ok {
					continue
				}
				kids, err := s.Children(parentDir(e.Path))
				if err != nil {
					t.Fatalf("%q is visible but Children of its parent: %v", e.Path, err)
				}
				found := false
				for _, k := range kids {
					found = found || k.Path == e.Path
				}
				if !found {
					t.Fatalf("%q is visible but not listed by its parent", e.Path)
				}
			}
		}
		if len(layers) > 0 {
			walkFS(t, FS(s))
		}
	})
}
