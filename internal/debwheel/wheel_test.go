package debwheel

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ent is one entry of a test package's data archive.
type ent struct {
	name string
	typ  byte // tar.TypeReg unless set
	body string
	link string
	mode int64
}

const sp = "./usr/lib/python3/dist-packages/"

func tarOf(t testing.TB, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// base is a well-formed package: a module and an egg-info.
func base() []ent {
	return []ent{
		{name: "./", typ: tar.TypeDir},
		{name: "./usr/bin/demo", body: "#!/usr/bin/python3\n", mode: 0o755},
		{name: "./usr/share/doc/python3-demo/copyright", body: "c"},
		{name: sp + "demo/__init__.py", body: "VERSION = '1.2'\n"},
		{name: sp + "demo/tool.py", body: "x = 1\n", mode: 0o755},
		{name: sp + "demo-1.2.egg-info/PKG-INFO", body: "Metadata-Version: 2.1\nName: demo\nVersion: 1.2\nSummary: a demo\nProvides-Extra: fast\n\nLong\ntext.\n"},
		{name: sp + "demo-1.2.egg-info/requires.txt", body: "lost-base-req\n\n[:python_version < \"3.8\"]\nold\n\n[fast]\nspeedy>=1\n\n[fast:sys_platform == \"linux\"]\nlinuxy\n"},
		{name: sp + "demo-1.2.egg-info/entry_points.txt", body: "[console_scripts]\ndemo = demo.tool:main\n"},
		{name: sp + "demo-1.2.egg-info/top_level.txt", body: "demo\n"},
		{name: sp + "demo-1.2.egg-info/SOURCES.txt", body: "setup.py\n"},
	}
}

var demoControl = control{Package: "python3-demo", Version: "1.2-1", Depends: "python3-dep (>= 2.0~rc1-1), python3:any, ca-certificates, python3-te | python3 (>> 3.8), python3-old | python3 (>> 3.7)"}

func with(ents []ent, more ...ent) []ent { return append(append([]ent{}, ents...), more...) }

// unzip returns a wheel's entries and their contents.
func unzip(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]string{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		out[f.Name] = string(b)
	}
	return out
}

func TestConvertPackage(t *testing.T) {
	d, err := readDist(demoControl, bytes.NewReader(tarOf(t, base())), Pin{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"python3-dep": "Dep.Pkg", "python3-te": "typing_extensions"}
	if err := d.require(names, Pin{}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	w, err := d.writeWheel(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(out, "demo-1.2-py3-none-any.whl"); w.File != want {
		t.Errorf("file %s, want %s", w.File, want)
	}
	if diff := cmp.Diff([]string{"Dep.Pkg>=2.0", `typing_extensions; python_version < "3.8"`}, w.Requires); diff != "" {
		t.Errorf("requires (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ca-certificates: not a Python package", "python3-old: not pinned, and only Python before 3.7 needs it"}, w.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	files := unzip(t, w.File)
	var got []string
	for k := range files {
		got = append(got, k)
	}
	sort.Strings(got)
	want := []string{"demo-1.2.dist-info/METADATA", "demo-1.2.dist-info/RECORD", "demo-1.2.dist-info/WHEEL", "demo-1.2.dist-info/entry_points.txt", "demo-1.2.dist-info/top_level.txt", "demo/__init__.py", "demo/tool.py"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("wheel entries (-want +got):\n%s", diff)
	}
	wantMeta := "Metadata-Version: 2.1\nName: demo\nVersion: 1.2\nSummary: a demo\nProvides-Extra: fast\n" +
		"Requires-Dist: Dep.Pkg>=2.0\nRequires-Dist: typing_extensions; python_version < \"3.8\"\n" +
		"Requires-Dist: speedy>=1; extra == \"fast\"\nRequires-Dist: linuxy; (sys_platform == \"linux\") and extra == \"fast\"\n\nLong\ntext.\n"
	if diff := cmp.Diff(wantMeta, files["demo-1.2.dist-info/METADATA"]); diff != "" {
		t.Errorf("METADATA (-want +got):\n%s", diff)
	}
	record := files["demo-1.2.dist-info/RECORD"]
	if !strings.Contains(record, "demo/__init__.py,sha256=") || !strings.HasSuffix(record, "demo-1.2.dist-info/RECORD,,\n") {
		t.Errorf("RECORD:\n%s", record)
	}
	// The same package makes the same bytes.
	w2, err := d.writeWheel(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(w.File)
	b, _ := os.ReadFile(w2.File)
	if !bytes.Equal(a, b) {
		t.Error("two conversions of one package differ")
	}
}

// A dist-info package keeps its Requires-Dist with an extra only, and
// its other files but RECORD, WHEEL and INSTALLER.
func TestConvertDistInfo(t *testing.T) {
	ents := []ent{
		{name: sp + "Dist_Thing/__init__.py", body: ""},
		{name: sp + "Dist_Thing-0.9.post1.dist-info/METADATA", body: "Metadata-Version: 2.1\nName: Dist.Thing\nVersion: 0.9.post1\nRequires-Dist: anyio<5,>=3.4.0\nRequires-Dist: jinja2; extra == 'full'\n\n"},
		{name: sp + "Dist_Thing-0.9.post1.dist-info/RECORD", body: "junk"},
		{name: sp + "Dist_Thing-0.9.post1.dist-info/INSTALLER", body: "debian"},
		{name: sp + "Dist_Thing-0.9.post1.dist-info/LICENSE", body: "MIT"},
		{name: sp + "Dist_Thing/__pycache__/__init__.cpython-311.pyc", body: "pyc"},
	}
	d, err := readDist(control{Package: "python3-thing", Version: "0.9.post1-1", Depends: "python3-anyio"}, bytes.NewReader(tarOf(t, ents)), Pin{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.require(map[string]string{"python3-anyio": "anyio"}, Pin{}); err != nil {
		t.Fatal(err)
	}
	w, err := d.writeWheel(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(w.File) != "dist_thing-0.9.post1-py3-none-any.whl" {
		t.Errorf("file %s", w.File)
	}
	files := unzip(t, w.File)
	info := "dist_thing-0.9.post1.dist-info/"
	if got, want := files[info+"METADATA"], "Metadata-Version: 2.1\nName: Dist.Thing\nVersion: 0.9.post1\nRequires-Dist: jinja2; extra == 'full'\nRequires-Dist: anyio\n\n"; got != want {
		t.Errorf("METADATA %q, want %q", got, want)
	}
	if files[info+"LICENSE"] != "MIT" || files[info+"RECORD"] == "junk" {
		t.Errorf("entries: %v", files)
	}
	for k := range files {
		if strings.Contains(k, "INSTALLER") || strings.Contains(k, "__pycache__") {
			t.Errorf("wheel holds %s", k)
		}
	}
}

// A link inside dist-packages becomes a copy of its target.
func TestConvertLinkInside(t *testing.T) {
	ents := with(base(),
		ent{name: sp + "demo/alias.py", typ: tar.TypeSymlink, link: "tool.py"},
		ent{name: sp + "demo/hard.py", typ: tar.TypeLink, link: sp + "demo/__init__.py"},
		ent{name: sp + "demo/chain.py", typ: tar.TypeSymlink, link: "alias.py"},
	)
	d, err := readDist(demoControl, bytes.NewReader(tarOf(t, ents)), Pin{})
	if err != nil {
		t.Fatal(err)
	}
	if string(d.files["demo/alias.py"].data) != "x = 1\n" || string(d.files["demo/chain.py"].data) != "x = 1\n" || string(d.files["demo/hard.py"].data) != "VERSION = '1.2'\n" {
		t.Errorf("links: %q %q %q", d.files["demo/alias.py"].data, d.files["demo/chain.py"].data, d.files["demo/hard.py"].data)
	}
}

// Compiled modules: refused, unless the pin omits them with a reason.
func TestConvertNative(t *testing.T) {
	ents := with(base(),
		ent{name: sp + "demo/_speedups.cpython-311-x86_64-linux-gnu.so", body: "\x7fELF"},
		ent{name: sp + "demo/_abi.abi3.so", body: "\x7fELF"},
	)
	_, err := readDist(demoControl, bytes.NewReader(tarOf(t, ents)), Pin{})
	if err == nil || !strings.Contains(err.Error(), "compiled modules demo/_abi.abi3.so, demo/_speedups.cpython-311-x86_64-linux-gnu.so") {
		t.Fatalf("error %v", err)
	}
	pin := Pin{Omit: map[string]string{"demo/_speedups.*.so": "demo falls back to pure Python"}}
	_, err = readDist(demoControl, bytes.NewReader(tarOf(t, ents)), pin)
	if err == nil || !strings.Contains(err.Error(), "compiled modules demo/_abi.abi3.so:") {
		t.Fatalf("error %v", err)
	}
	pin.Omit["demo/_abi.abi3.so"] = "optional too"
	d, err := readDist(demoControl, bytes.NewReader(tarOf(t, ents)), pin)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"demo/_abi.abi3.so: optional too", "demo/_speedups.cpython-311-x86_64-linux-gnu.so: demo falls back to pure Python"}
	if diff := cmp.Diff(want, d.omitted); diff != "" {
		t.Errorf("omitted (-want +got):\n%s", diff)
	}
	if _, ok := d.files["demo/_abi.abi3.so"]; ok {
		t.Error("an omitted module is still in the wheel")
	}
}

// hostile holds packages a converter must refuse: a .deb is outside
// input. Each error names what is wrong.
var hostile = []struct {
	name string
	ents []ent
	want string
}{
	{"dot-dot into /etc", with(base(), ent{name: sp + "../../../../etc/passwd", body: "x"}), "not a plain relative path"},
	{"dot-dot inside", with(base(), ent{name: sp + "demo/../demo/x.py", body: "x"}), "not a plain relative path"},
	{"absolute path", with(base(), ent{name: "/usr/lib/python3/dist-packages/evil.py", body: "x"}), "absolute path"},
	{"absolute outside dist-packages", with(base(), ent{name: "/etc/cron.d/evil", body: "x"}), "absolute path"},
	{"symlink to an absolute path", with(base(), ent{name: sp + "demo/passwd", typ: tar.TypeSymlink, link: "/etc/passwd"}), "links out of dist-packages (absolute target"},
	{"symlink climbing out", with(base(), ent{name: sp + "demo/passwd", typ: tar.TypeSymlink, link: "../../../../../etc/passwd"}), "links out of dist-packages"},
	{"symlink to a directory of the package", with(base(), ent{name: sp + "demo/sub", typ: tar.TypeSymlink, link: "."}), "no file of the package"},
	{"symlink to dist-packages itself", with(base(), ent{name: sp + "demo/up", typ: tar.TypeSymlink, link: ".."}), "links out of dist-packages"},
	{"symlink loop", with(base(), ent{name: sp + "demo/a.py", typ: tar.TypeSymlink, link: "b.py"}, ent{name: sp + "demo/b.py", typ: tar.TypeSymlink, link: "a.py"}), "no file of the package"},
	{"symlink to nothing", with(base(), ent{name: sp + "demo/a.py", typ: tar.TypeSymlink, link: "missing.py"}), "no file of the package"},
	{"hard link out", with(base(), ent{name: sp + "demo/h", typ: tar.TypeLink, link: "./etc/shadow"}), "hard link out of dist-packages"},
	{"hard link with dot-dot", with(base(), ent{name: sp + "demo/h", typ: tar.TypeLink, link: sp + "../../../../etc/shadow"}), "not a plain relative path"},
	{"device", with(base(), ent{name: sp + "demo/null", typ: tar.TypeChar}), "character device"},
	{"device outside dist-packages", with(base(), ent{name: "./dev/sda", typ: tar.TypeBlock}), "block device"},
	{"fifo", with(base(), ent{name: sp + "demo/fifo", typ: tar.TypeFifo}), "FIFO"},
	{"twice", with(base(), ent{name: sp + "demo/tool.py", body: "y"}), "appears twice"},
	{"backslash", with(base(), ent{name: sp + "demo\\..\\x.py", body: "x"}), "not a plain relative path"},
	{"no metadata", []ent{{name: sp + "demo/__init__.py"}}, "want one .egg-info or .dist-info"},
	{"two metadata", with(base(), ent{name: sp + "other-1.dist-info/METADATA", body: "Name: other\n"}), "found 2"},
	{"name that climbs", []ent{{name: sp + "x.egg-info", body: "Metadata-Version: 2.1\nName: ../../x\nVersion: 1\n"}}, "no distribution name"},
	{"version that climbs", []ent{{name: sp + "x.egg-info", body: "Metadata-Version: 2.1\nName: x\nVersion: 1/../../../x\n"}}, "no version a wheel's name can hold"},
	{"version with a dash", []ent{{name: sp + "x.egg-info", body: "Metadata-Version: 2.1\nName: x\nVersion: 1-2\n"}}, "no version a wheel's name can hold"},
	{"no metadata version", []ent{{name: sp + "x.egg-info", body: "Name: x\nVersion: 1\n"}}, "no Metadata-Version"},
	{"metadata not fields", []ent{{name: sp + "x.egg-info", body: "garbage\n"}}, "is no field"},
}

func TestConvertHostile(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readDist(demoControl, bytes.NewReader(tarOf(t, tc.ents)), Pin{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestConvertDepends(t *testing.T) {
	for _, tc := range []struct {
		name, depends string
		names         map[string]string
		pin           Pin
		want          string
	}{
		{"not pinned", "python3-a, python3-b", map[string]string{"python3-a": "a"}, Pin{}, "depends on python3-b, which is not pinned"},
		{"dropped", "python3-a, python3-b", map[string]string{"python3-a": "a"}, Pin{Drop: map[string]string{"python3-b": "why"}}, ""},
		{"bad field", "python3-a (>= ", nil, Pin{}, "want NAME (OP VERSION)"},
		{"odd name", "python3-A", nil, Pin{}, "package name"},
		{"python3 older", "python3-a | python3 (<< 3.8)", map[string]string{"python3-a": "a"}, Pin{}, "is not understood"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &dist{ctl: control{Package: "python3-x", Depends: tc.depends}}
			err := d.require(tc.names, tc.pin)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestPEP440(t *testing.T) {
	for in, want := range map[string]string{"1.2.3-1": "1.2.3", "1:2.0-3": "2.0", "0.14.0-1.1~deb12u1": "0.14.0", "2.28.1+dfsg-1": "2.28.1", "3.0~rc1-1": "3.0", "1.0a1-1": ""} {
		got, ok := pep440(in)
		if got != want || ok != (want != "") {
			t.Errorf("pep440(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzConvert feeds arbitrary data archives to the converter: an error
// or a wheel whose entries are plain relative paths, written in the
// directory given and nowhere else; never a panic.
func FuzzConvert(f *testing.F) {
	f.Add(tarOf(f, base()))
	for _, tc := range hostile {
		f.Add(tarOf(f, tc.ents))
	}
	maxTotalSize = 1 << 20 // a sparse entry reads as that many zeros
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := readDist(demoControl, bytes.NewReader(data), Pin{})
		if err != nil {
			return
		}
		if err := d.require(map[string]string{"python3-dep": "dep", "python3-te": "te", "python3-old": "old"}, Pin{}); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		w, err := d.writeWheel(out)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(w.File) != out {
			t.Fatalf("wheel written at %s, outside %s", w.File, out)
		}
		entries, _ := os.ReadDir(out)
		if len(entries) != 1 {
			t.Fatalf("%d files in the output directory", len(entries))
		}
		zr, err := zip.OpenReader(w.File)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			if !validPath(f.Name) {
				t.Fatalf("wheel entry %q", f.Name)
			}
		}
	})
}

// FuzzControl feeds arbitrary control files (a .deb's, outside input) to
// the parser and the Depends translation: an error or requirements, never
// a panic.
func FuzzControl(f *testing.F) {
	f.Add([]byte("Package: python3-demo\nVersion: 1.2-1\nDepends: " + demoControl.Depends + "\nDescription: x\n more\n"))
	f.Add([]byte("Package: p\nVersion: 1\nDepends: python3-a (>= 1:2.0~rc1-1) [amd64] | python3 (>> 3.8), python3-b:any (= 3)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctl, err := parseControl(data)
		if err != nil {
			return
		}
		d := &dist{ctl: ctl}
		names := map[string]string{"python3-a": "a", "python3-b": "b", "python3-dep": "dep", "python3-te": "te"}
		if err := d.require(names, Pin{}); err != nil {
			return
		}
		for _, r := range d.requires {
			if strings.ContainsAny(r, "\n\r") {
				t.Fatalf("requirement %q spans lines", r)
			}
		}
	})
}
