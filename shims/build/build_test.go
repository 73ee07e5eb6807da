package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReplaceLine(t *testing.T) {
	src := "// Copyright\n\n//go:build js\n\npackage interp\n"
	got, err := replaceLine([]byte(src), "//go:build js", "//go:build js || wasip1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "// Copyright\n\n//go:build js || wasip1\n\npackage interp\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"package interp\n", "//go:build js\n//go:build js\n", "//go:build js && !wasm\n"} {
		if _, err := replaceLine([]byte(bad), "//go:build js", "x"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestInterpOverlay checks the patches against the module version in
// go.sum: a new version that moved the constraints fails here first.
func TestInterpOverlay(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	o := &options{root: root}
	if o.goCmd, err = findGo(); err != nil {
		t.Fatal(err)
	}
	ov, err := interpOverlay(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ov.patches {
		if !strings.Contains(string(p.data), "\n"+p.to+"\n") {
			t.Errorf("%s: generated file lacks %q", p.dst, p.to)
		}
	}
	dir := t.TempDir()
	overlayJSON, modFile, err := ov.write(dir, root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(overlayJSON)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, want := range []string{"interp/stdin_inproc.go", "interp/api.go", "syntax/parser.go"} {
		if !strings.Contains(js, want) {
			t.Errorf("overlay lacks %s", want)
		}
	}
	for _, unwanted := range []string{"stdin_js.go", "_test.go", "testdata"} {
		if strings.Contains(js, unwanted) {
			t.Errorf("overlay has %s", unwanted)
		}
	}
	mod, err := os.ReadFile(modFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "replace mvdan.cc/sh/v3 => "+filepath.FromSlash(virtualModDir)) {
		t.Errorf("go.mod lacks the replace directive:\n%s", mod)
	}
}

func TestBuildKey(t *testing.T) {
	root := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+ModulePath+"\n")
	write("go.sum", "")
	write("shims/busybox/main.go", "package main\n")
	write("shims/busybox/shell/shell.go", "package shell\n")
	ov := &shOverlay{patches: []*patch{{dst: "interp/x.go", data: []byte("a")}}}
	key := func() string {
		t.Helper()
		k, err := buildKey(root, "go1.26.8", ov)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key()
	if key() != base {
		t.Fatal("key is not stable")
	}
	same := []struct{ name, file string }{
		{"a test file", "shims/busybox/shell/shell_test.go"},
		{"testdata", "shims/busybox/shell/testdata/x.txt"},
		{"a file outside shims/busybox", "runtime/run.go"},
	}
	for _, tc := range same {
		write(tc.file, "x")
		if key() != base {
			t.Errorf("adding %s changed the key", tc.name)
		}
	}
	changes := []struct {
		name   string
		change func()
	}{
		{"a source", func() { write("shims/busybox/shell/shell.go", "package shell // changed\n") }},
		{"a new source", func() { write("shims/busybox/proc/proc.go", "package proc\n") }},
		{"go.sum", func() { write("go.sum", "x v1.0.0 h1:x\n") }},
		{"go.mod", func() { write("go.mod", "module "+ModulePath+"\n\ngo 1.26\n") }},
		{"the patch", func() { ov.patches[0].data = []byte("b") }},
	}
	prev := base
	for _, tc := range changes {
		tc.change()
		if k := key(); k == prev {
			t.Errorf("changing %s kept the key", tc.name)
		} else {
			prev = k
		}
	}
	if k, _ := buildKey(root, "go1.27", ov); k == prev {
		t.Error("the Go version is not in the key")
	}
}

func TestRoot(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "shims", "busybox")); err != nil {
		t.Errorf("Root() = %s: %v", root, err)
	}
	if err := checkRoot(t.TempDir()); err == nil {
		t.Error("an empty directory passes as the root")
	}
}

func TestBuildIsSkippedWhenUnchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("links busybox.wasm; skipped with -short")
	}
	ctx := context.Background()
	out := t.TempDir()
	path, err := Build(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !strings.HasPrefix(string(b), "\x00asm") {
		t.Fatalf("%s is not a Wasm module (%v)", path, err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(ctx, out); err != nil {
		t.Fatal(err)
	}
	fi2, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi2.ModTime().Equal(old) || fi2.Size() != fi.Size() {
		t.Error("second Build with the same inputs rewrote the module")
	}
	// A lost module is rebuilt even if the key is there.
	os.Remove(path)
	if _, err := Build(ctx, out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}
