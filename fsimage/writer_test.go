package fsimage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// want returns f's entry as the reader gives it back.
func (f tfile) want() Entry { return f.e }

func TestRoundTrip(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 3<<20/16+1) // a bit over 3 MiB
	tests := []struct {
		name  string
		files []tfile
		want  []Entry // nil: the files' entries, in order
	}{
		{
			name: "empty image",
			want: []Entry{implied(".")},
		},
		{
			name: "explicit root",
			files: []tfile{
				{e: Entry{Path: ".", Type: TypeDir, Mode: 0o700, UID: 1, GID: 2, ModTime: t0}},
			},
		},
		{
			name: "every type",
			files: []tfile{
				dir(".", 0o755),
				dir("a", 0o750),
				reg("a/file", 0o644, "hello"),
				tfile{e: Entry{Path: "a/link", Type: TypeHardlink, Mode: 0o644, ModTime: t0, Size: 5, Linkname: "a/file"}},
				symlink("a/sym", "../b/missing"),
				opaque("b"),
				whiteout("b/gone"),
			},
		},
		{
			name: "modes, owners and times",
			files: []tfile{
				dir(".", 0o755),
				{e: Entry{Path: "all-bits", Type: TypeSymlink, Mode: modeMask, ModTime: t0, Linkname: "/abs/target"}},
				{e: Entry{Path: "setuid", Type: TypeReg, Mode: fs.ModeSetuid | 0o755, ModTime: t0}},
				{e: Entry{Path: "setgid", Type: TypeReg, Mode: fs.ModeSetgid | 0o711, UID: 4294967295, GID: 65534, ModTime: time.Unix(-1, 999999999).UTC()}},
				{e: Entry{Path: "sticky", Type: TypeDir, Mode: fs.ModeSticky | 0o777, UID: 1000, GID: 1000, ModTime: time.Unix(1<<40, 1).UTC()}},
				{e: Entry{Path: "zero-time", Type: TypeReg, Mode: 0}},
				{e: Entry{Path: "latest-time", Type: TypeDir, Mode: 0o755, ModTime: time.Unix(maxUnixSec, 999999999).UTC()}},
				{e: Entry{Path: "ancient-time", Type: TypeDir, Mode: 0o755, ModTime: time.Date(-4000, 1, 1, 0, 0, 0, 1, time.UTC)}},
			},
		},
		{
			name: "hard links share data",
			files: []tfile{
				dir(".", 0o755),
				hardlink("a", "z"),
				hardlink("b", "z"),
				hardlink("e", "empty"),
				reg("empty", 0o600, ""),
				reg("z", 0o644, "shared data"),
			},
			want: []Entry{
				dir(".", 0o755).e,
				withSize(hardlink("a", "z").e, 11),
				withSize(hardlink("b", "z").e, 11),
				hardlink("e", "empty").e,
				reg("empty", 0o600, "").e,
				reg("z", 0o644, "shared data").e,
			},
		},
		{
			name: "implied parents",
			files: []tfile{
				reg("usr/local/bin/tool", 0o755, "x"),
				dir("usr/local", 0o700),
			},
			want: []Entry{
				implied("."),
				implied("usr"),
				dir("usr/local", 0o700).e,
				implied("usr/local/bin"),
				reg("usr/local/bin/tool", 0o755, "x").e,
			},
		},
		{
			name: "depth-first order by name",
			files: []tfile{
				dir(".", 0o755),
				reg("a", 0o644, "1"),
				reg("a b", 0o644, "2"),
				reg("a.b", 0o644, "3"),
				dir("a0", 0o755),
				reg("a0/x", 0o644, "4"),
				reg("a0/x.y", 0o644, "5"),
				dir("a0/x0", 0o755),
				reg("a0/x0/deep", 0o644, "6"),
				reg("b", 0o644, "7"),
				reg("ünïcödé", 0o644, "8"),
				reg("\xff\x01name", 0o644, "9"),
			},
		},
		{
			name: "large file",
			files: []tfile{
				dir(".", 0o755),
				reg("big", 0o644, big),
				reg("small", 0o644, "after the big one"),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := build(t, tc.files...)
			img := mustOpen(t, b)
			want := tc.want
			if want == nil {
				for _, f := range tc.files {
					want = append(want, f.want())
				}
				slices.SortFunc(want, func(a, b Entry) int { return comparePaths(a.Path, b.Path) })
			}
			if diff := cmp.Diff(want, img.Entries()); diff != "" {
				t.Errorf("Entries() mismatch (-want +got):\n%s", diff)
			}
			for _, f := range tc.files {
				got, ok := img.Lookup(f.e.Path)
				if !ok {
					t.Errorf("Lookup(%q) = false", f.e.Path)
					continue
				}
				if got.Path != f.e.Path || got.Type != f.e.Type {
					t.Errorf("Lookup(%q) = %+v", f.e.Path, got)
				}
				switch f.e.Type {
				case TypeReg:
					if got := readContent(t, img, f.e.Path); got != f.data {
						t.Errorf("Content(%q) = %d bytes, want %d", f.e.Path, len(got), len(f.data))
					}
				case TypeHardlink:
					target := findFile(tc.files, f.e.Linkname)
					if got := readContent(t, img, f.e.Path); got != target.data {
						t.Errorf("Content(%q) = %q, want %q", f.e.Path, got, target.data)
					}
				default:
					if _, err := img.Content(f.e.Path); err == nil {
						t.Errorf("Content(%q) of a %s succeeded", f.e.Path, f.e.Type)
					}
				}
			}
		})
	}
}

func withSize(e Entry, n int64) Entry {
	e.Size = n
	return e
}

func findFile(files []tfile, p string) tfile {
	for _, f := range files {
		if f.e.Path == p {
			return f
		}
	}
	panic("no file " + p)
}

// TestHardLinkNoCopy checks that a hard link adds no data to the image.
func TestHardLinkNoCopy(t *testing.T) {
	data := strings.Repeat("x", 1<<16)
	one := build(t, reg("f", 0o644, data))
	two := build(t, reg("f", 0o644, data), hardlink("g", "f"), hardlink("h", "f"))
	if grew := len(two) - len(one); grew > 2*(recordSize+2) {
		t.Errorf("two hard links grew the image by %d bytes; want only their index entries", grew)
	}
}

func TestDeterministic(t *testing.T) {
	files := []tfile{
		dir("etc", 0o755),
		reg("etc/hosts", 0o644, "127.0.0.1 localhost\n"),
		reg("etc/empty", 0o600, ""),
		hardlink("etc/hosts.bak", "etc/hosts"),
		symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
		reg("usr/bin/python3", 0o755, strings.Repeat("py", 5000)),
		whiteout("var/cache"),
		opaque("opt"),
		reg("opt/tool", 0o700, "tool"),
		reg("a.b", 0o644, "dot"),
		reg("a/b", 0o644, "slash"),
	}
	want := build(t, files...)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		shuffled := append([]tfile(nil), files...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := build(t, shuffled...); !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d: output differs from the first build", i)
		}
	}

	// One Writer, written twice.
	w := NewWriter()
	for _, f := range files {
		if err := w.AddBytes(f.e, []byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("WriteTo #%d differs", i+1)
		}
	}

	// Writing what was read gives back the same bytes: the encoding is
	// canonical.
	if got := rewrite(t, mustOpen(t, want)); !bytes.Equal(got, want) {
		t.Fatal("rewriting the opened image changed its bytes")
	}
}

// rewrite writes every entry of img, with its contents, to a new image.
func rewrite(t testing.TB, img *Image) []byte {
	t.Helper()
	w := NewWriter()
	for _, e := range img.Entries() {
		var open func() (io.ReadCloser, error)
		if e.Type == TypeReg {
			p := e.Path
			open = func() (io.ReadCloser, error) {
				sr, err := img.Content(p)
				return io.NopCloser(sr), err
			}
		}
		if err := w.Add(e, open); err != nil {
			t.Fatalf("Add(%+v): %v", e, err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAddErrors(t *testing.T) {
	ok := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }
	tests := []struct {
		name string
		e    Entry
		open func() (io.ReadCloser, error)
		want string
	}{
		{"empty path", Entry{Type: TypeReg}, nil, "empty path"},
		{"absolute", Entry{Path: "/etc", Type: TypeDir}, nil, "path is absolute"},
		{"dot dot", Entry{Path: "a/../b", Type: TypeDir}, nil, `".." element`},
		{"leading dot dot", Entry{Path: "../b", Type: TypeDir}, nil, `".." element`},
		{"dot element", Entry{Path: "./a", Type: TypeDir}, nil, `"." element`},
		{"empty element", Entry{Path: "a//b", Type: TypeDir}, nil, "empty element"},
		{"trailing slash", Entry{Path: "a/", Type: TypeDir}, nil, "empty element"},
		{"NUL", Entry{Path: "a\x00b", Type: TypeDir}, nil, "NUL"},
		{"no type", Entry{Path: "a"}, nil, "unknown type Type(0)"},
		{"unknown type", Entry{Path: "a", Type: 9}, nil, "unknown type Type(9)"},
		{"type bits in mode", Entry{Path: "a", Type: TypeDir, Mode: fs.ModeDir | 0o755}, nil, "bits other than permissions"},
		{"symlink bit in mode", Entry{Path: "a", Type: TypeSymlink, Mode: fs.ModeSymlink, Linkname: "b"}, nil, "bits other than permissions"},
		{"root not a dir", Entry{Path: ".", Type: TypeReg}, nil, "root must be a directory"},
		{"negative size", Entry{Path: "a", Type: TypeReg, Size: -1}, ok, "negative Size"},
		{"size without open", Entry{Path: "a", Type: TypeReg, Size: 3}, nil, "no open function"},
		{"dir with size", Entry{Path: "a", Type: TypeDir, Size: 3}, nil, "dir entry with Size 3"},
		{"dir with open", Entry{Path: "a", Type: TypeDir}, ok, "open function"},
		{"dir with linkname", Entry{Path: "a", Type: TypeDir, Linkname: "b"}, nil, "Linkname"},
		{"opaque file", Entry{Path: "a", Type: TypeReg, Opaque: true}, nil, "Opaque is only for directories"},
		{"empty symlink", Entry{Path: "a", Type: TypeSymlink}, nil, "empty target"},
		{"NUL symlink", Entry{Path: "a", Type: TypeSymlink, Linkname: "b\x00"}, nil, "NUL"},
		{"hard link to absolute", Entry{Path: "a", Type: TypeHardlink, Linkname: "/b"}, nil, "path is absolute"},
		{"hard link to dot dot", Entry{Path: "a", Type: TypeHardlink, Linkname: "../b"}, nil, `".." element`},
		{"hard link to itself", Entry{Path: "a", Type: TypeHardlink, Linkname: "a"}, nil, "other than itself"},
		{"hard link to root", Entry{Path: "a", Type: TypeHardlink, Linkname: "."}, nil, "other than itself"},
		{"empty hard link", Entry{Path: "a", Type: TypeHardlink}, nil, "empty path"},
		{"whiteout of root", Entry{Path: ".", Type: TypeWhiteout}, nil, "root must be a directory"},
		{"whiteout with size", Entry{Path: "a", Type: TypeWhiteout, Size: 1}, nil, "whiteout entry with Size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := NewWriter().Add(tc.e, tc.open)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Add(%+v) = %v, want an error containing %q", tc.e, err, tc.want)
			}
		})
	}

	t.Run("duplicate", func(t *testing.T) {
		w := NewWriter()
		if err := w.AddBytes(dir("a", 0o755).e, nil); err != nil {
			t.Fatal(err)
		}
		err := w.AddBytes(reg("a", 0o644, "").e, nil)
		if err == nil || !strings.Contains(err.Error(), `"a": added twice`) {
			t.Fatalf("second Add = %v, want added twice", err)
		}
	})
	t.Run("AddBytes size mismatch", func(t *testing.T) {
		err := NewWriter().AddBytes(Entry{Path: "a", Type: TypeReg, Size: 2}, []byte("abc"))
		if err == nil || !strings.Contains(err.Error(), "Size is 2 but data is 3 bytes") {
			t.Fatalf("AddBytes = %v", err)
		}
	})
	t.Run("AddBytes data for a dir", func(t *testing.T) {
		err := NewWriter().AddBytes(Entry{Path: "a", Type: TypeDir}, []byte("abc"))
		if err == nil || !strings.Contains(err.Error(), "dir entry with 3 bytes of data") {
			t.Fatalf("AddBytes = %v", err)
		}
	})
}

// content is an open function whose reader and closer can fail.
type content struct {
	data              string
	openErr, closeErr error
	readErr           error // returned after data
	opened, closed    int
}

func (c *content) open() (io.ReadCloser, error) {
	c.opened++
	if c.openErr != nil {
		return nil, c.openErr
	}
	return c, nil
}

func (c *content) Read(p []byte) (int, error) {
	if c.data == "" {
		if c.readErr != nil {
			return 0, c.readErr
		}
		return 0, io.EOF
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *content) Close() error {
	c.closed++
	return c.closeErr
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.after {
		n := f.after
		f.after = 0
		return n, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriteToErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		files   []tfile
		content *content // for the regular file "c", Size 4
		out     io.Writer
		want    string
		wantIs  error
	}{
		{name: "hard link target missing", files: []tfile{hardlink("a", "b")}, want: `entry "a": hard link target "b" is not in the image`},
		{name: "hard link to a dir", files: []tfile{dir("d", 0o755), hardlink("a", "d")}, want: `hard link target "d" is a dir, not a regular file`},
		{name: "hard link to a hard link", files: []tfile{reg("f", 0o644, "x"), hardlink("g", "f"), hardlink("h", "g")}, want: `hard link target "g" is a hardlink`},
		{name: "hard link to a symlink", files: []tfile{symlink("s", "f"), hardlink("h", "s")}, want: `hard link target "s" is a symlink`},
		{name: "hard link with the wrong size", files: []tfile{reg("f", 0o644, "xyz"), withFileSize(hardlink("h", "f"), 2)}, want: `Size is 2 but hard link target "f" has 3 bytes`},
		{name: "parent is a file", files: []tfile{reg("a", 0o644, ""), reg("a/b", 0o644, "")}, want: `entry "a/b": parent "a" is a reg, not a directory`},
		{name: "grandparent is a symlink", files: []tfile{symlink("a", "x"), reg("a/b/c", 0o644, "")}, want: `entry "a/b/c": parent "a" is a symlink`},
		{name: "parent is a whiteout", files: []tfile{whiteout("a"), reg("a/b", 0o644, "")}, want: `parent "a" is a whiteout`},
		{name: "short content", content: &content{data: "abc"}, want: `entry "c": contents are 3 bytes, Size is 4`},
		{name: "long content", content: &content{data: "abcde"}, want: `entry "c": contents are longer than Size 4`},
		{name: "open fails", content: &content{openErr: boom}, want: `opening contents of "c": boom`, wantIs: boom},
		{name: "read fails", content: &content{data: "ab", readErr: boom}, want: `reading contents of "c": boom`, wantIs: boom},
		{name: "read fails at the end", content: &content{data: "abcd", readErr: boom}, want: `reading contents of "c": boom`, wantIs: boom},
		{name: "close fails", content: &content{data: "abcd", closeErr: boom}, want: `closing contents of "c": boom`, wantIs: boom},
		{name: "output fails", content: &content{data: "abcd"}, out: &failWriter{after: 20}, want: "disk full"},
		{name: "output fails at once", out: &failWriter{}, want: "writing image: disk full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter()
			for _, f := range tc.files {
				if err := w.AddBytes(f.e, []byte(f.data)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.content != nil {
				if err := w.Add(Entry{Path: "c", Type: TypeReg, Size: 4}, tc.content.open); err != nil {
					t.Fatal(err)
				}
				// Big enough not to fit bufio's buffer, so that the
				// output fails while contents are copied.
				if err := w.AddBytes(reg("d", 0o644, strings.Repeat("d", 100<<10)).e, []byte(strings.Repeat("d", 100<<10))); err != nil {
					t.Fatal(err)
				}
			}
			out := tc.out
			if out == nil {
				out = io.Discard
			}
			_, err := w.WriteTo(out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WriteTo = %v, want an error containing %q", err, tc.want)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("WriteTo = %v, want errors.Is %v", err, tc.wantIs)
			}
			if c := tc.content; c != nil && c.openErr == nil && c.opened > 0 && c.closed != c.opened {
				t.Errorf("contents opened %d times, closed %d", c.opened, c.closed)
			}
		})
	}
}

func withFileSize(f tfile, n int64) tfile {
	f.e.Size = n
	return f
}

// TestWriteToStreams checks that contents are opened only by WriteTo, one
// at a time, each closed before the next is opened.
func TestWriteToStreams(t *testing.T) {
	var log []string
	w := NewWriter()
	for _, name := range []string{"c", "a", "b"} {
		data := strings.Repeat(name, 1000)
		err := w.Add(Entry{Path: name, Type: TypeReg, Size: int64(len(data))}, func() (io.ReadCloser, error) {
			log = append(log, "open "+name)
			return &logCloser{Reader: strings.NewReader(data), log: &log, name: name}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(log) != 0 {
		t.Fatalf("Add opened contents: %v", log)
	}
	if _, err := w.WriteTo(io.Discard); err != nil {
		t.Fatal(err)
	}
	want := []string{"open a", "close a", "open b", "close b", "open c", "close c"}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("open/close sequence mismatch (-want +got):\n%s", diff)
	}
}

type logCloser struct {
	io.Reader
	log  *[]string
	name string
}

func (l *logCloser) Close() error {
	*l.log = append(*l.log, "close "+l.name)
	return nil
}

func ExampleWriter() {
	w := NewWriter()
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = w.AddBytes(Entry{Path: "bin/hello", Type: TypeReg, Mode: 0o755, ModTime: mtime}, []byte("#!/bin/sh\necho hello\n"))
	_ = w.AddBytes(Entry{Path: "usr/bin/hello", Type: TypeSymlink, Mode: 0o777, ModTime: mtime, Linkname: "/bin/hello"}, nil)
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		fmt.Println(err)
		return
	}

	img, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range img.Entries() {
		if e.Type == TypeSymlink {
			fmt.Println(e.FileMode(), e.Path, "->", e.Linkname)
		} else {
			fmt.Println(e.FileMode(), e.Path)
		}
	}
	data, err := fs.ReadFile(FS(img), "usr/bin/hello")
	fmt.Printf("%q %v\n", data, err)
	// Output:
	// drwxr-xr-x .
	// drwxr-xr-x bin
	// -rwxr-xr-x bin/hello
	// drwxr-xr-x usr
	// drwxr-xr-x usr/bin
	// Lrwxrwxrwx usr/bin/hello -> /bin/hello
	// "#!/bin/sh\necho hello\n" <nil>
}
