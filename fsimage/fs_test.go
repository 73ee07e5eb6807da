package fsimage

import (
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// rootfs is a small root file system with links of every kind; every
// symbolic link in it resolves, as fstest.TestFS requires.
func rootfs() []tfile {
	return []tfile{
		dir(".", 0o755),
		reg("bin/busybox", 0o755, "busybox"),
		symlink("bin/sh", "busybox"),
		symlink("bin/ls", "/bin/busybox"),
		hardlink("bin/cat", "bin/busybox"),
		reg("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
		reg("etc/empty", 0o600, ""),
		symlink("etc/mtab", "../proc/self/mounts"),
		reg("proc/self/mounts", 0o444, "none / fsimage ro 0 0\n"),
		symlink("usr/bin", "../bin"),
		symlink("usr/sbin", "/usr/bin"),
		symlink("lib", "usr/lib"),
		reg("usr/lib/libc.so", 0o755, strings.Repeat("\x7fELF", 1000)),
		dir("tmp", fs.ModeSticky|0o777),
		symlink("escape", "../../../../etc/passwd"),
		symlink("root-escape", "/../../etc/passwd"),
		symlink("dotdot", ".."),
		symlink("trailing", "etc/"),
	}
}

func TestFSConformance(t *testing.T) {
	img := image(t, rootfs()...)
	expected := []string{"bin/busybox", "bin/sh", "bin/cat", "etc/passwd", "etc/empty", "etc/mtab", "proc/self/mounts", "usr/lib/libc.so", "tmp"}
	t.Run("image", func(t *testing.T) {
		if err := fstest.TestFS(FS(img), expected...); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stack", func(t *testing.T) {
		upper := image(t, whiteout("tmp"), reg("etc/passwd", 0o644, "changed"), opaque("proc"), reg("proc/new", 0o644, "new"), whiteout("escape"), whiteout("etc/mtab"))
		s := FS(Stack(img, upper))
		if err := fstest.TestFS(s, "bin/busybox", "bin/cat", "etc/passwd", "proc/new"); err != nil {
			t.Fatal(err)
		}
		for _, gone := range []string{"tmp", "proc/self/mounts", "escape", "etc/mtab"} {
			if _, err := s.Stat(gone); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(%q) = %v, want ErrNotExist", gone, err)
			}
		}
	})
	t.Run("whiteouts of a single layer are absent", func(t *testing.T) {
		layer := image(t, reg("a", 0o644, "a"), whiteout("b"), whiteout("d/c"))
		if err := fstest.TestFS(FS(layer), "a", "d"); err != nil {
			t.Fatal(err)
		}
		if _, err := FS(layer).Stat("b"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(b) = %v, want ErrNotExist", err)
		}
	})
	t.Run("empty image", func(t *testing.T) {
		if err := fstest.TestFS(FS(image(t))); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFSWalkOrder checks that Entries is in the order fs.WalkDir visits.
func TestFSWalkOrder(t *testing.T) {
	img := image(t,
		reg("a", 0o644, ""), reg("a b", 0o644, ""), reg("a.b", 0o644, ""), reg("a-", 0o644, ""),
		reg("a0/x", 0o644, ""), reg("a0/x.y", 0o644, ""), reg("a0/x0/deep", 0o644, ""), reg("a0/x-/deep", 0o644, ""),
		reg("b", 0o644, ""), reg("-", 0o644, ""), reg("ünï", 0o644, ""), reg("\xff", 0o644, ""),
	)
	var walked []string
	err := fs.WalkDir(FS(img), ".", func(p string, d fs.DirEntry, err error) error {
		walked = append(walked, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for _, e := range img.Entries() {
		entries = append(entries, e.Path)
	}
	if diff := cmp.Diff(walked, entries); diff != "" {
		t.Errorf("Entries order differs from fs.WalkDir (-walk +entries):\n%s", diff)
	}
}

func TestFSResolve(t *testing.T) {
	files := append(rootfs(),
		symlink("loop/a", "b"),
		symlink("loop/b", "a"),
		symlink("loop/self", "self"),
		symlink("loop/deep", "deep/x"),
		symlink("notdir", "etc/passwd/x"),
		symlink("dangling", "nowhere"),
		symlink("abs-dotdot", "/bin/../etc/passwd"),
		symlink("via-file", "etc/passwd/"),
	)
	// A chain of exactly 40 links (l1 to l40) resolves; 41 do not.
	files = append(files, symlink("chain/l40", "../etc/passwd"))
	for i := 39; i >= 1; i-- {
		files = append(files, symlink("chain/l"+itoa(i), "l"+itoa(i+1)))
	}
	files = append(files, symlink("chain41", "chain/l1"))
	fsys := FS(image(t, files...))

	tests := []struct {
		name    string
		want    string // the Path of the entry Stat finds
		wantErr error
	}{
		{name: ".", want: "."},
		{name: "bin/sh", want: "bin/busybox"},
		{name: "bin/ls", want: "bin/busybox"},
		{name: "bin/cat", want: "bin/cat"},
		{name: "usr/bin/sh", want: "bin/busybox"},
		{name: "usr/sbin/ls", want: "bin/busybox"},
		{name: "lib/libc.so", want: "usr/lib/libc.so"},
		{name: "lib", want: "usr/lib"},
		{name: "etc/mtab", want: "proc/self/mounts"},
		{name: "escape", want: "etc/passwd"},
		{name: "root-escape", want: "etc/passwd"},
		{name: "abs-dotdot", want: "etc/passwd"},
		{name: "dotdot", want: "."},
		{name: "dotdot/dotdot/dotdot/bin", want: "bin"},
		{name: "usr/bin/../etc/passwd", wantErr: fs.ErrInvalid}, // not a valid fs path
		{name: "trailing", want: "etc"},
		{name: "trailing/passwd", want: "etc/passwd"},
		{name: "chain/l1", want: "etc/passwd"},
		{name: "chain41", wantErr: ErrLoop},
		{name: "loop/a", wantErr: ErrLoop},
		{name: "loop/self", wantErr: ErrLoop},
		{name: "loop/deep", wantErr: ErrLoop},
		{name: "notdir", wantErr: ErrNotDir},
		{name: "via-file", wantErr: ErrNotDir},
		{name: "etc/passwd/x", wantErr: ErrNotDir},
		{name: "dangling", wantErr: fs.ErrNotExist},
		{name: "nope", wantErr: fs.ErrNotExist},
		{name: "bin/nope", wantErr: fs.ErrNotExist},
		{name: "/etc/passwd", wantErr: fs.ErrInvalid},
		{name: "etc/", wantErr: fs.ErrInvalid},
		{name: "", wantErr: fs.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := fsys.Stat(tc.name)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Stat(%q) = %v, want %v", tc.name, err, tc.wantErr)
				}
				var pe *fs.PathError
				if !errors.As(err, &pe) || pe.Path != tc.name {
					t.Errorf("Stat(%q) error %v is not a *fs.PathError naming the path", tc.name, err)
				}
				if _, err := fsys.Open(tc.name); !errors.Is(err, tc.wantErr) {
					t.Errorf("Open(%q) = %v, want %v", tc.name, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Stat(%q): %v", tc.name, err)
			}
			e := fi.Sys().(Entry)
			if e.Path != tc.want {
				t.Errorf("Stat(%q) found %q, want %q", tc.name, e.Path, tc.want)
			}
			if want := baseName(tc.name); fi.Name() != want {
				t.Errorf("Stat(%q).Name() = %q, want %q", tc.name, fi.Name(), want)
			}
		})
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestFSLinks(t *testing.T) {
	fsys := FS(image(t, append(rootfs(), symlink("loop/a", "b"), symlink("loop/b", "a"))...))
	tests := []struct {
		name     string
		target   string // ReadLink
		lstat    string // Lstat's entry path
		mode     fs.FileMode
		size     int64
		wantErr  error // from ReadLink
		lstatErr error
	}{
		{name: "bin/sh", target: "busybox", lstat: "bin/sh", mode: fs.ModeSymlink | 0o777, size: 7},
		{name: "usr/sbin", target: "/usr/bin", lstat: "usr/sbin", mode: fs.ModeSymlink | 0o777, size: 8},
		{name: "usr/bin/sh", target: "busybox", lstat: "bin/sh", mode: fs.ModeSymlink | 0o777, size: 7}, // usr/bin is followed, sh is not
		{name: "escape", target: "../../../../etc/passwd", lstat: "escape", mode: fs.ModeSymlink | 0o777, size: 22},
		{name: "loop/a", target: "b", lstat: "loop/a", mode: fs.ModeSymlink | 0o777, size: 1},
		{name: "bin/busybox", lstat: "bin/busybox", mode: 0o755, size: 7, wantErr: fs.ErrInvalid},
		{name: "bin/cat", lstat: "bin/cat", mode: 0o644, size: 7, wantErr: fs.ErrInvalid}, // a hard link keeps its own entry's mode
		{name: "tmp", lstat: "tmp", mode: fs.ModeDir | fs.ModeSticky | 0o777, wantErr: fs.ErrInvalid},
		{name: "nope", wantErr: fs.ErrNotExist, lstatErr: fs.ErrNotExist},
		{name: "loop/a/x", wantErr: ErrLoop, lstatErr: ErrLoop},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target, err := fsys.ReadLink(tc.name)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("ReadLink(%q) = %q, %v; want %v", tc.name, target, err, tc.wantErr)
				}
			} else if err != nil || target != tc.target {
				t.Errorf("ReadLink(%q) = %q, %v; want %q", tc.name, target, err, tc.target)
			}
			fi, err := fsys.Lstat(tc.name)
			if tc.lstatErr != nil {
				if !errors.Is(err, tc.lstatErr) {
					t.Errorf("Lstat(%q) = %v, want %v", tc.name, err, tc.lstatErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lstat(%q): %v", tc.name, err)
			}
			got := []any{fi.Sys().(Entry).Path, fi.Mode(), fi.Size(), fi.Name()}
			want := []any{tc.lstat, tc.mode, tc.size, baseName(tc.name)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Lstat(%q) mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestFSFiles(t *testing.T) {
	fsys := FS(image(t, rootfs()...))

	f, err := fsys.Open("lib/libc.so")
	if err != nil {
		t.Fatal(err)
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		t.Fatalf("%T is not an io.ReaderAt", f)
	}
	sk, ok := f.(io.Seeker)
	if !ok {
		t.Fatalf("%T is not an io.Seeker", f)
	}
	buf := make([]byte, 4)
	if n, err := ra.ReadAt(buf, 3996); n != 4 || err != nil || string(buf) != "\x7fELF" {
		t.Errorf("ReadAt(3996) = %d, %v, %q", n, err, buf)
	}
	if n, err := ra.ReadAt(buf, 3998); n != 2 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 2, EOF", n, err)
	}
	if pos, err := sk.Seek(-2, io.SeekEnd); pos != 3998 || err != nil {
		t.Errorf("Seek(-2, end) = %d, %v", pos, err)
	}
	if b, err := io.ReadAll(f); err != nil || string(b) != "LF" {
		t.Errorf("ReadAll after Seek = %q, %v", b, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(buf); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}

	d, err := fsys.Open("usr/bin") // a symlink to a directory
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read(buf); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Read of a directory = %v", err)
	}
	list, err := d.(fs.ReadDirFile).ReadDir(-1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name()+" "+e.Type().String())
	}
	if diff := cmp.Diff([]string{"busybox ----------", "cat ----------", "ls L---------", "sh L---------"}, names); diff != "" {
		t.Errorf("ReadDir(usr/bin) mismatch (-want +got):\n%s", diff)
	}
	d.Close()

	if _, err := fsys.ReadDir("etc/passwd"); !errors.Is(err, ErrNotDir) {
		t.Errorf("ReadDir(file) = %v, want ErrNotDir", err)
	}
	if _, err := fsys.ReadFile("tmp"); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("ReadFile(dir) = %v", err)
	}
	if b, err := fsys.ReadFile("etc/empty"); err != nil || len(b) != 0 {
		t.Errorf("ReadFile(empty) = %q, %v", b, err)
	}
	if b, err := fs.ReadFile(fsys, "usr/sbin/cat"); err != nil || string(b) != "busybox" {
		t.Errorf("ReadFile(usr/sbin/cat) = %q, %v", b, err)
	}
}

// TestFSReadFileLarge reads a file bigger than the first buffer ReadFile
// allocates would be for a small file.
func TestFSReadFileLarge(t *testing.T) {
	big := strings.Repeat("abcdefgh", 1<<18) // 2 MiB
	b, err := FS(image(t, reg("big", 0o644, big))).ReadFile("big")
	if err != nil || string(b) != big {
		t.Fatalf("ReadFile(big) = %d bytes, %v", len(b), err)
	}
}

// lyingTree claims a size its content does not have.
type lyingTree struct{ Tree }

func (l lyingTree) Lookup(p string) (Entry, bool) {
	e, ok := l.Tree.Lookup(p)
	if e.Type == TypeReg {
		e.Size = 1 << 62
	}
	return e, ok
}

func TestFSUntrustedSize(t *testing.T) {
	fsys := FS(lyingTree{image(t, reg("f", 0o644, "small"))})
	if b, err := fsys.ReadFile("f"); err != nil || string(b) != "small" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
}

// TestFSNonUTF8 checks that names that are not UTF-8, which Linux allows
// and images keep, can be listed and opened.
func TestFSNonUTF8(t *testing.T) {
	fsys := FS(image(t, reg("latin1/caf\xe9", 0o644, "coffee"), symlink("link", "latin1/caf\xe9")))
	list, err := fsys.ReadDir("latin1")
	if err != nil || len(list) != 1 || list[0].Name() != "caf\xe9" {
		t.Fatalf("ReadDir(latin1) = %v, %v", list, err)
	}
	for _, name := range []string{"latin1/caf\xe9", "link"} {
		if b, err := fsys.ReadFile(name); err != nil || string(b) != "coffee" {
			t.Errorf("ReadFile(%q) = %q, %v", name, b, err)
		}
	}
}
