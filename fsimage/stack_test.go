package fsimage

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// listing describes a tree as "path type" lines, with the content of
// regular files and the target of links, to compare whole trees in one
// diff.
func listing(t *testing.T, tr Tree) []string {
	t.Helper()
	var out []string
	var walk func(dir string)
	walk = func(dir string) {
		kids, err := tr.Children(dir)
		if err != nil {
			t.Fatalf("Children(%q): %v", dir, err)
		}
		for _, k := range kids {
			if e, ok := tr.Lookup(k.Path); !ok || e != k {
				t.Errorf("Children(%q) has %+v, Lookup gives %+v, %v", dir, k, e, ok)
			}
			line := k.Path + " " + k.Type.String()
			switch k.Type {
			case TypeReg, TypeHardlink:
				line += " " + readContent(t, tr, k.Path)
			case TypeSymlink:
				line += " -> " + k.Linkname
			}
			if k.Opaque {
				line += " opaque"
			}
			out = append(out, line)
			if k.Type == TypeDir {
				walk(k.Path)
			}
		}
	}
	walk(".")
	return out
}

func TestStack(t *testing.T) {
	base := []tfile{
		reg("etc/passwd", 0o644, "base passwd"),
		reg("etc/hosts", 0o644, "base hosts"),
		reg("usr/lib/libc.so", 0o755, "libc"),
		reg("usr/lib/python/site.py", 0o644, "site"),
		reg("usr/share/doc/README", 0o644, "doc"),
		reg("bin/sh", 0o755, "base sh"),
		hardlink("bin/ash", "bin/sh"),
		reg("opt/app/old", 0o644, "old"),
		dir("var/cache", 0o755),
		reg("var/cache/x", 0o644, "x"),
	}
	tests := []struct {
		name   string
		layers [][]tfile // bottom first
		want   []string
	}{
		{
			name:   "one layer",
			layers: [][]tfile{{reg("a", 0o644, "A"), whiteout("b")}},
			want:   []string{"a reg A"},
		},
		{
			name: "upper file replaces lower file",
			layers: [][]tfile{
				{reg("a", 0o644, "lower"), reg("b", 0o644, "B")},
				{reg("a", 0o600, "upper")},
			},
			want: []string{"a reg upper", "b reg B"},
		},
		{
			name: "whiteout file",
			layers: [][]tfile{
				base,
				{whiteout("etc/passwd")},
			},
			want: []string{
				"bin dir", "bin/ash hardlink base sh", "bin/sh reg base sh",
				"etc dir", "etc/hosts reg base hosts",
				"opt dir", "opt/app dir", "opt/app/old reg old",
				"usr dir", "usr/lib dir", "usr/lib/libc.so reg libc", "usr/lib/python dir", "usr/lib/python/site.py reg site",
				"usr/share dir", "usr/share/doc dir", "usr/share/doc/README reg doc",
				"var dir", "var/cache dir", "var/cache/x reg x",
			},
		},
		{
			name: "whiteout dir hides its subtree",
			layers: [][]tfile{
				base,
				{whiteout("usr/lib"), whiteout("var")},
			},
			want: []string{
				"bin dir", "bin/ash hardlink base sh", "bin/sh reg base sh",
				"etc dir", "etc/hosts reg base hosts", "etc/passwd reg base passwd",
				"opt dir", "opt/app dir", "opt/app/old reg old",
				"usr dir", "usr/share dir", "usr/share/doc dir", "usr/share/doc/README reg doc",
			},
		},
		{
			name: "whiteout then recreate in a higher layer",
			layers: [][]tfile{
				base,
				{whiteout("usr")},
				{reg("usr/new", 0o644, "new")},
			},
			want: []string{
				"bin dir", "bin/ash hardlink base sh", "bin/sh reg base sh",
				"etc dir", "etc/hosts reg base hosts", "etc/passwd reg base passwd",
				"opt dir", "opt/app dir", "opt/app/old reg old",
				"usr dir", "usr/new reg new",
				"var dir", "var/cache dir", "var/cache/x reg x",
			},
		},
		{
			name: "opaque dir keeps its own layer's entries",
			layers: [][]tfile{
				base,
				{opaque("usr/lib"), reg("usr/lib/libnew.so", 0o755, "new"), reg("usr/lib/python/other.py", 0o644, "other")},
				{reg("usr/lib/python/top.py", 0o644, "top")},
			},
			want: []string{
				"bin dir", "bin/ash hardlink base sh", "bin/sh reg base sh",
				"etc dir", "etc/hosts reg base hosts", "etc/passwd reg base passwd",
				"opt dir", "opt/app dir", "opt/app/old reg old",
				"usr dir", "usr/lib dir", "usr/lib/libnew.so reg new",
				"usr/lib/python dir", "usr/lib/python/other.py reg other", "usr/lib/python/top.py reg top",
				"usr/share dir", "usr/share/doc dir", "usr/share/doc/README reg doc",
				"var dir", "var/cache dir", "var/cache/x reg x",
			},
		},
		{
			name: "opaque root",
			layers: [][]tfile{
				base,
				{{e: Entry{Path: ".", Type: TypeDir, Mode: 0o700, Opaque: true}}, reg("only", 0o644, "only")},
			},
			want: []string{"only reg only"},
		},
		{
			name: "file replaces dir",
			layers: [][]tfile{
				base,
				{reg("usr/lib", 0o644, "now a file"), symlink("opt", "/usr")},
			},
			want: []string{
				"bin dir", "bin/ash hardlink base sh", "bin/sh reg base sh",
				"etc dir", "etc/hosts reg base hosts", "etc/passwd reg base passwd",
				"opt symlink -> /usr",
				"usr dir", "usr/lib reg now a file",
				"usr/share dir", "usr/share/doc dir", "usr/share/doc/README reg doc",
				"var dir", "var/cache dir", "var/cache/x reg x",
			},
		},
		{
			name: "dir replaces file",
			layers: [][]tfile{
				base,
				{reg("etc/passwd/inside", 0o644, "in"), dir("bin/sh", 0o755)},
			},
			want: []string{
				"bin dir", "bin/ash hardlink base sh", "bin/sh dir",
				"etc dir", "etc/hosts reg base hosts", "etc/passwd dir", "etc/passwd/inside reg in",
				"opt dir", "opt/app dir", "opt/app/old reg old",
				"usr dir", "usr/lib dir", "usr/lib/libc.so reg libc", "usr/lib/python dir", "usr/lib/python/site.py reg site",
				"usr/share dir", "usr/share/doc dir", "usr/share/doc/README reg doc",
				"var dir", "var/cache dir", "var/cache/x reg x",
			},
		},
		{
			name: "file between two dirs cuts the lower one off",
			layers: [][]tfile{
				{reg("d/bottom", 0o644, "bottom")},
				{reg("d", 0o644, "middle file")},
				{reg("d/top", 0o644, "top")},
			},
			want: []string{"d dir", "d/top reg top"},
		},
		{
			name: "merged children sorted",
			layers: [][]tfile{
				{reg("d/b", 0o644, "1"), reg("d/d", 0o644, "1"), reg("d/f", 0o644, "1")},
				{reg("d/a", 0o644, "2"), reg("d/c", 0o644, "2"), whiteout("d/d")},
				{reg("d/e", 0o644, "3"), reg("d/b", 0o644, "3"), whiteout("d/zzz")},
			},
			want: []string{"d dir", "d/a reg 2", "d/b reg 3", "d/c reg 2", "d/e reg 3", "d/f reg 1"},
		},
		{
			name: "hard link resolves in its own layer",
			layers: [][]tfile{
				{reg("f", 0o644, "original"), hardlink("g", "f")},
				{reg("f", 0o644, "replaced")},
			},
			want: []string{"f reg replaced", "g hardlink original"},
		},
		{
			name: "hard link whose target is whited out",
			layers: [][]tfile{
				{reg("f", 0o644, "original"), hardlink("g", "f")},
				{whiteout("f")},
			},
			want: []string{"g hardlink original"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var layers []Tree
			for _, l := range tc.layers {
				layers = append(layers, image(t, l...))
			}
			s := Stack(layers...)
			if diff := cmp.Diff(tc.want, listing(t, s)); diff != "" {
				t.Errorf("merged tree mismatch (-want +got):\n%s", diff)
			}
			// Whatever Lookup finds must be what Children shows.
			for _, l := range layers {
				for _, e := range l.(*Image).Entries() {
					got, ok := s.Lookup(e.Path)
					if ok && (got.Type == TypeWhiteout || got.Opaque) {
						t.Errorf("Lookup(%q) = %+v: whiteout or opaque in a Stack", e.Path, got)
					}
					if ok && !inListing(tc.want, e.Path) && e.Path != "." {
						t.Errorf("Lookup(%q) found a %s that Children does not list", e.Path, got.Type)
					}
				}
			}
		})
	}
}

func inListing(lines []string, p string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, p+" ") {
			return true
		}
	}
	return false
}

func TestStackMetadata(t *testing.T) {
	lower := image(t, tfile{e: Entry{Path: "d", Type: TypeDir, Mode: 0o700, UID: 1, ModTime: t0}})
	upper := image(t, tfile{e: Entry{Path: "d", Type: TypeDir, Mode: 0o755, UID: 2, ModTime: t0, Opaque: true}})
	got, ok := Stack(lower, upper).Lookup("d")
	want := Entry{Path: "d", Type: TypeDir, Mode: 0o755, UID: 2, ModTime: t0}
	if !ok {
		t.Fatal("Lookup(d) = false")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lookup(d) mismatch (-want +got):\n%s", diff)
	}
}

func TestStackErrors(t *testing.T) {
	s := Stack(image(t, reg("f", 0o644, "x"), dir("d", 0o755)), image(t, whiteout("d")))
	if _, err := s.Children("d"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Children(whited-out d) = %v, want ErrNotExist", err)
	}
	if _, err := s.Children("f"); !errors.Is(err, ErrNotDir) {
		t.Errorf("Children(f) = %v, want ErrNotDir", err)
	}
	if _, err := s.Content("d"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Content(d) = %v, want ErrNotExist", err)
	}
	if _, err := s.Content("."); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Content(.) = %v, want not a regular file", err)
	}
	empty := Stack()
	if _, ok := empty.Lookup("."); ok {
		t.Error("empty Stack has a root")
	}
	if _, err := empty.Children("."); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty Stack Children(.) = %v, want ErrNotExist", err)
	}
}

// TestStackOfStacks checks that a Stack used as a layer is a flattened tree:
// its whiteouts and opaque directories have been applied and hide nothing
// more.
func TestStackOfStacks(t *testing.T) {
	bottom := image(t, reg("a", 0o644, "bottom a"), reg("d/x", 0o644, "bottom x"))
	inner := Stack(image(t, reg("b", 0o644, "b")), image(t, whiteout("a"), opaque("d")))
	got := listing(t, Stack(bottom, inner))
	want := []string{"a reg bottom a", "b reg b", "d dir", "d/x reg bottom x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}
