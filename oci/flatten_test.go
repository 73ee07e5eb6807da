package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmbox/wasmbox/fsimage"
)

// te is a tar entry of a test layer.
type te struct {
	name string
	typ  byte
	mode int64
	link string
	data string
}

func reg(name, data string) te { return te{name: name, typ: tar.TypeReg, mode: 0o644, data: data} }
func dir(name string) te       { return te{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) te {
	return te{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hardlink(name, target string) te {
	return te{name: name, typ: tar.TypeLink, mode: 0o644, link: target}
}

// tarOf makes an uncompressed layer tar of entries, in order.
func tarOf(t testing.TB, entries ...te) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.data)),
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if h.Size > 0 {
			if _, err := io.WriteString(tw, e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// flattenLayers flattens layers with the spool in spoolDir and returns
// the resulting fsimage, reopened, and what was dropped.
func flattenLayers(t testing.TB, spoolDir string, layers ...[]byte) (*fsimage.Image, []Dropped) {
	t.Helper()
	ft, err := newFlatTree(spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	for i, l := range layers {
		if err := ft.addLayer(context.Background(), i, bytes.NewReader(l)); err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
	}
	var out bytes.Buffer
	if _, err := ft.writeTo(&out); err != nil {
		t.Fatalf("writing the flattened layer: %v", err)
	}
	img, err := fsimage.Open(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatalf("the flattened layer does not open: %v", err)
	}
	return img, ft.dropped
}

// listing is one line per entry: path, type, mode, and the link target
// or the contents.
func listing(t testing.TB, img fsimage.Tree) []string {
	t.Helper()
	var out []string
	var walk func(d string)
	walk = func(d string) {
		kids, err := img.Children(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range kids {
			line := fmt.Sprintf("%s %s %#o", e.Path, e.Type, unixPerm(e.Mode))
			switch e.Type {
			case fsimage.TypeSymlink:
				line += " -> " + e.Linkname
			case fsimage.TypeReg, fsimage.TypeHardlink:
				r, err := img.Content(e.Path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(r)
				line += " " + string(b)
				if e.Type == fsimage.TypeHardlink {
					line += " (=" + e.Linkname + ")"
				}
			}
			out = append(out, line)
			if e.Type == fsimage.TypeDir {
				walk(e.Path)
			}
		}
	}
	walk(".")
	return out
}

func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

func reasons(ds []Dropped) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

// flattenCases are the rules of flattening, one case each; they seed
// FuzzFlatten too.
var flattenCases = []struct {
	name    string
	layers  [][]te
	want    []string
	dropped []string
}{
	{
		name: "whiteout deletes a file and a subtree of lower layers",
		layers: [][]te{
			{dir("etc/"), reg("etc/a", "A"), reg("etc/b", "B"), dir("data/"), reg("data/x/y", "Y")},
			{reg("etc/.wh.a", ""), reg(".wh.data", "")},
		},
		want: []string{"etc dir 0755", "etc/b reg 0644 B"},
	},
	{
		name: "whiteouts hide lower layers only, not their own layer",
		layers: [][]te{
			{reg("f", "old")},
			{reg("f", "new"), reg(".wh.f", "")},
		},
		want: []string{"f reg 0644 new"},
	},
	{
		name: "opaque directory hides the lower contents, keeps its own",
		layers: [][]te{
			{dir("d/"), reg("d/lower1", "1"), dir("d/sub/"), reg("d/sub/x", "x"), reg("keep", "k")},
			{dir("d/"), reg("d/.wh..wh..opq", ""), reg("d/upper", "u")},
		},
		want: []string{"d dir 0755", "d/upper reg 0644 u", "keep reg 0644 k"},
	},
	{
		name: "hard links share contents, even after the target is deleted",
		layers: [][]te{
			{reg("bin/prog", "code"), hardlink("bin/alias", "bin/prog"), reg("etc/conf", "c")},
			{reg("bin/.wh.prog", ""), hardlink("etc/conf2", "etc/conf")},
		},
		want: []string{"bin dir 0755", "bin/alias reg 0644 code", "etc dir 0755", "etc/conf reg 0644 c", "etc/conf2 hardlink 0644 c (=etc/conf)"},
	},
	{
		name: "symlinks kept as written, modes kept",
		layers: [][]te{
			{
				te{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
				te{name: "usr/bin/su", typ: tar.TypeReg, mode: 0o4755, data: "su"},
				symlink("bin", "usr/bin"), symlink("abs", "/etc/passwd"), symlink("up", "../../../../etc"),
			},
		},
		want: []string{
			"abs symlink 0777 -> /etc/passwd", "bin symlink 0777 -> usr/bin", "tmp dir 01777",
			"up symlink 0777 -> ../../../../etc", "usr dir 0755", "usr/bin dir 0755", "usr/bin/su reg 04755 su",
		},
	},
	{
		name: "a later entry replaces; a file replaces a directory and its subtree",
		layers: [][]te{
			{reg("a", "1"), dir("d/"), reg("d/x", "x"), reg("./b", "b1")},
			{reg("a", "2"), reg("d", "now a file"), reg("b", "b2"), dir("./")},
		},
		want: []string{"a reg 0644 2", "b reg 0644 b2", "d reg 0644 now a file"},
	},
	{
		name:    "tar-slip names are dropped",
		layers:  [][]te{{reg("../../tmp/x", "evil"), reg("/tmp/y", "evil"), reg("ok/../../z", "evil"), reg("fine", "f")}},
		want:    []string{"fine reg 0644 f"},
		dropped: []string{`layer 1: "../../tmp/x": the name has a ".." element (tar-slip)`, `layer 1: "/tmp/y": absolute path (tar-slip)`, `layer 1: "ok/../../z": the name has a ".." element (tar-slip)`},
	},
	{
		name: "nothing is written through a symlink",
		layers: [][]te{
			{symlink("evil", "/tmp"), symlink("up", "../../../.."), reg("evil/x", "evil")},
			{reg("up/etc/passwd", "evil"), reg("evil/.wh.x", "")},
		},
		want: []string{"evil symlink 0777 -> /tmp", "up symlink 0777 -> ../../../.."},
		dropped: []string{
			`layer 1: "evil/x": written through the symbolic link evil -> /tmp`,
			`layer 2: "evil/.wh.x": whiteout written through the symbolic link evil -> /tmp`,
			`layer 2: "up/etc/passwd": written through the symbolic link up -> ../../../..`,
		},
	},
	{
		name:   "hard links out of the image are dropped",
		layers: [][]te{{hardlink("passwd", "/etc/passwd"), hardlink("p2", "../../etc/passwd"), hardlink("p3", "etc/passwd"), symlink("l", "/etc"), hardlink("p4", "l/passwd"), dir("d/"), hardlink("p5", "d")}},
		want:   []string{"d dir 0755", "l symlink 0777 -> /etc"},
		dropped: []string{
			`layer 1: "passwd": hard link to "/etc/passwd": absolute path (tar-slip)`,
			`layer 1: "p2": hard link to "../../etc/passwd": the name has a ".." element (tar-slip)`,
			`layer 1: "p3": hard link to "etc/passwd": no such file in the image`,
			`layer 1: "p4": hard link to "l/passwd": written through the symbolic link l -> /etc`,
			`layer 1: "p5": hard link to "d": a dir, not a regular file`,
		},
	},
	{
		name:   "device nodes and FIFOs are dropped",
		layers: [][]te{{te{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660}, te{name: "dev/null", typ: tar.TypeChar, mode: 0o666}, te{name: "fifo", typ: tar.TypeFifo, mode: 0o644}}},
		want:   nil,
		dropped: []string{
			`layer 1: "dev/sda": a device node (a box has no devices but /dev/null)`,
			`layer 1: "dev/null": a device node (a box has no devices but /dev/null)`,
			`layer 1: "fifo": a FIFO (WASI has none)`,
		},
	},
	{
		name:    "bad whiteouts",
		layers:  [][]te{{reg("a/x", "x")}, {reg("a/.wh..wh..plnk", ""), reg("a/.wh.", ""), reg("a/x/.wh.y", "")}},
		want:    []string{"a dir 0755", "a/x reg 0644 x"},
		dropped: []string{`layer 2: "a/.wh..wh..plnk": AUFS metadata, not a file`, `layer 2: "a/.wh.": a whiteout of "" names no file`, `layer 2: "a/x/.wh.y": whiteout its parent a/x is not a directory`},
	},
}

func TestFlattenRules(t *testing.T) {
	for _, tc := range flattenCases {
		t.Run(tc.name, func(t *testing.T) {
			var layers [][]byte
			for _, l := range tc.layers {
				layers = append(layers, tarOf(t, l...))
			}
			img, dropped := flattenLayers(t, t.TempDir(), layers...)
			if diff := cmp.Diff(tc.want, listing(t, img)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.dropped, reasons(dropped)); diff != "" {
				t.Errorf("dropped (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFlattenHostileTouchesNothing flattens hostile layers aimed at a
// watched directory, and checks that nothing appeared there nor anywhere
// in the spool's directory.
func TestFlattenHostileTouchesNothing(t *testing.T) {
	watched := t.TempDir()
	spool := t.TempDir()
	secret := filepath.Join(watched, "secret")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(spool, watched)
	if err != nil {
		t.Fatal(err)
	}
	layers := [][]byte{
		tarOf(t, reg(rel+"/slip", "evil"), reg("../../../../../../../"+watched[1:]+"/slip2", "evil"), reg(watched+"/abs", "evil"),
			symlink("out", watched), reg("out/through", "evil"), hardlink("stolen", secret), hardlink("stolen2", rel+"/secret")),
		tarOf(t, reg("out/.wh.secret", ""), dir("out/"), reg("out/after", "evil")),
	}
	img, dropped := flattenLayers(t, spool, layers...)
	if len(dropped) != 7 {
		t.Errorf("dropped %d entries, want 7:\n%s", len(dropped), strings.Join(reasons(dropped), "\n"))
	}
	for _, dir := range []string{watched, spool} {
		var names []string
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if p != dir {
				names = append(names, p)
			}
			return nil
		})
		want := []string{}
		if dir == watched {
			want = []string{secret}
		}
		sort.Strings(names)
		if diff := cmp.Diff(want, append([]string{}, names...)); diff != "" {
			t.Errorf("files in %s (-want +got):\n%s", dir, diff)
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "host secret\n" {
		t.Errorf("the host file changed: %q", b)
	}
	// The second layer made out a directory of the box: its files live
	// there, not in the watched directory.
	got := listing(t, img)
	want := []string{"out dir 0755", "out/after reg 0644 evil"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

func TestFlattenMalformedTar(t *testing.T) {
	good := tarOf(t, reg("a", "hello world"), reg("b", "more"))
	ft, err := newFlatTree(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	err = ft.addLayer(context.Background(), 2, bytes.NewReader(good[:1100]))
	if err == nil || !strings.Contains(err.Error(), "layer 3") {
		t.Errorf("a truncated tar: %v, want an error naming layer 3", err)
	}
}
