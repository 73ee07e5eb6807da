package fsimage

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchImage builds an image shaped like a Python base layer: about n
// entries, mostly files a few directories deep, with some symlinks and hard
// links.
func benchImage(b *testing.B, n int) []byte {
	b.Helper()
	w := NewWriter()
	add := func(e Entry, data []byte) {
		if err := w.AddBytes(e, data); err != nil {
			b.Fatal(err)
		}
	}
	data := bytes.Repeat([]byte("x"), 100)
	for i := 0; w.len() < n; i++ {
		pkg := fmt.Sprintf("usr/lib/python3.11/site-packages/package%03d", i)
		add(Entry{Path: pkg, Type: TypeDir, Mode: 0o755, ModTime: t0}, nil)
		for j := range 8 {
			add(Entry{Path: fmt.Sprintf("%s/module_%02d.py", pkg, j), Type: TypeReg, Mode: 0o644, ModTime: t0}, data)
		}
		add(Entry{Path: pkg + "/__pycache__/cached.pyc", Type: TypeHardlink, Linkname: pkg + "/module_00.py"}, nil)
		add(Entry{Path: pkg + "/latest", Type: TypeSymlink, Mode: 0o777, Linkname: "module_07.py"}, nil)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// len counts the entries added so far (for benchmarks).
func (w *Writer) len() int { return len(w.entries) }

func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{100, 5000, 50000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			data := benchImage(b, n)
			r := bytes.NewReader(data)
			img, err := Open(r, int64(len(data)))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Open(r, int64(len(data))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(img.entries)), "entries")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(img.entries)), "ns/entry")
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	data := benchImage(b, 5000)
	img, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	const p = "usr/lib/python3.11/site-packages/package300/module_05.py"
	if _, ok := img.Lookup(p); !ok {
		b.Fatal("missing " + p)
	}
	b.ReportAllocs()
	for b.Loop() {
		img.Lookup(p)
	}
}

func BenchmarkFSStat(b *testing.B) {
	data := benchImage(b, 5000)
	img, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	fsys := FS(Stack(img, image(b, reg("etc/hosts", 0o644, "x"))))
	const p = "usr/lib/python3.11/site-packages/package300/latest"
	if _, err := fsys.Stat(p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		fsys.Stat(p)
	}
}

func BenchmarkWriteTo(b *testing.B) {
	w := NewWriter()
	data := bytes.Repeat([]byte("x"), 100)
	for i := range 5000 {
		if err := w.AddBytes(Entry{Path: fmt.Sprintf("d%02d/f%04d", i%50, i), Type: TypeReg, Mode: 0o644}, data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
