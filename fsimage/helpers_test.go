package fsimage

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"testing"
	"time"
)

// file is one entry plus the contents of a regular file, for building test
// images.
type tfile struct {
	e    Entry
	data string
}

func reg(p string, mode fs.FileMode, data string) tfile {
	return tfile{e: Entry{Path: p, Type: TypeReg, Mode: mode, ModTime: t0, Size: int64(len(data))}, data: data}
}

func dir(p string, mode fs.FileMode) tfile {
	return tfile{e: Entry{Path: p, Type: TypeDir, Mode: mode, ModTime: t0}}
}

func opaque(p string) tfile {
	return tfile{e: Entry{Path: p, Type: TypeDir, Mode: 0o755, ModTime: t0, Opaque: true}}
}

func symlink(p, target string) tfile {
	return tfile{e: Entry{Path: p, Type: TypeSymlink, Mode: 0o777, ModTime: t0, Linkname: target}}
}

func hardlink(p, target string) tfile {
	return tfile{e: Entry{Path: p, Type: TypeHardlink, Mode: 0o644, ModTime: t0, Linkname: target}}
}

func whiteout(p string) tfile {
	return tfile{e: Entry{Path: p, Type: TypeWhiteout, ModTime: t0}}
}

// t0 is a modification time with nanoseconds, to check they survive.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// implied is what the writer adds for a missing parent directory.
func implied(p string) Entry {
	return Entry{Path: p, Type: TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0).UTC()}
}

// build writes the files with a Writer, failing the test on error.
func build(t testing.TB, files ...tfile) []byte {
	t.Helper()
	b, err := tryBuild(files...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tryBuild(files ...tfile) ([]byte, error) {
	w := NewWriter()
	for _, f := range files {
		if err := w.AddBytes(f.e, []byte(f.data)); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		return nil, err
	}
	if n != int64(buf.Len()) {
		return nil, fmt.Errorf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes(), nil
}

func openBytes(b []byte) (*Image, error) {
	return Open(bytes.NewReader(b), int64(len(b)))
}

func mustOpen(t testing.TB, b []byte) *Image {
	t.Helper()
	img, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func image(t testing.TB, files ...tfile) *Image {
	t.Helper()
	return mustOpen(t, build(t, files...))
}

// readContent reads all of path's content from tr.
func readContent(t testing.TB, tr Tree, p string) string {
	t.Helper()
	sr, err := tr.Content(p)
	if err != nil {
		t.Fatalf("Content(%q): %v", p, err)
	}
	b, err := io.ReadAll(sr)
	if err != nil {
		t.Fatalf("reading Content(%q): %v", p, err)
	}
	return string(b)
}
