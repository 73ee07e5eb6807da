package runtime_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/runtime"
)

// The public Overlay: what a library user prepares before a run and reads
// after it, with os-like errors.
func TestOverlayAPI(t *testing.T) {
	o := runtime.NewOverlay(nil)
	if err := o.MkdirAll("/work/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteFile("/work/b.txt", []byte("bee"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteFile("work/a.py", []byte("print(1)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := o.Symlink("b.txt", "/work/link"); err != nil {
		t.Fatal(err)
	}
	if err := o.Symlink("x", "/work/link"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("a second symlink at the same name: %v", err)
	}
	ents, err := o.ReadDir("/work")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		desc := fmt.Sprintf("%s:%v", e.Name(), info.Mode())
		if !e.IsDir() {
			desc += fmt.Sprintf(":%d", info.Size())
		}
		got = append(got, desc)
		if e.IsDir() != info.IsDir() || e.Type() != info.Mode().Type() {
			t.Errorf("%s: the entry's type %v and the info's %v differ", e.Name(), e.Type(), info.Mode())
		}
	}
	if want := "a.py:-rwxr-xr-x:9 b.txt:-rw-r-----:3 link:Lrwxrwxrwx:5 sub:drwxr-xr-x"; strings.Join(got, " ") != want {
		t.Errorf("ReadDir: %s, want %s", strings.Join(got, " "), want)
	}
	if b, err := o.ReadFile("/work/link"); err != nil || string(b) != "bee" {
		t.Errorf("ReadFile through the link: %q %v", b, err)
	}
	if _, err := o.ReadFile("/work/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := o.ReadDir("/work/b.txt"); err == nil {
		t.Error("ReadDir of a file")
	}
	if err := o.WriteFile("/nodir/f", nil, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile in a missing directory: %v", err)
	}
	if p, err := o.LookPath("a.py", []string{"PATH=/work"}, "/"); err != nil || p != "/work/a.py" {
		t.Errorf("LookPath: %q %v", p, err)
	}
}
