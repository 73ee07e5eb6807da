package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/runtime"
)

// wazeroFiles lists the compiled modules in wazero's part of cache dir.
func wazeroFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "wazero", "*", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestPrecompile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := runtime.NewOverlay(testutil.ShellBase(t))
	if err := o.WriteFile("/bin/prog", trapModule, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteFile("/usr/local/bin/tool", []byte("#!/bin/prog\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	precompile := func(name string) {
		t.Helper()
		rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close(ctx)
		p, err := o.LookPath(name, []string{"PATH=/usr/local/bin:/bin"}, "/")
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Precompile(ctx, o, p); err != nil {
			t.Fatal(err)
		}
	}

	// A command found through PATH, a script: its interpreter is compiled
	// into the cache directory.
	precompile("tool")
	files := wazeroFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("after Precompile, wazero's cache holds %q; want one module", files)
	}
	// Another process finds it recorded and does not even load it from
	// the cache (observed by spoiling wazero's file behind the record's
	// back: wazero would replace a spoiled entry).
	if err := os.WriteFile(files[0], []byte("spoiled"), 0o600); err != nil {
		t.Fatal(err)
	}
	precompile("prog")
	if data, _ := os.ReadFile(files[0]); string(data) != "spoiled" {
		t.Errorf("a recorded module was compiled again")
	}
	// Without wazero's files the record does not count.
	if err := os.RemoveAll(filepath.Dir(files[0])); err != nil {
		t.Fatal(err)
	}
	precompile("prog")
	if files := wazeroFiles(t, dir); len(files) != 1 {
		t.Errorf("after wazero's cache was removed, Precompile left %q; want one module", files)
	}
	// What cannot run is an error, as for Run.
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	if err := rt.Precompile(ctx, o, "/etc/passwd"); err == nil {
		t.Error("Precompile of a text file succeeded")
	}
	if _, err := o.LookPath("nosuch", nil, "/"); err == nil {
		t.Error("LookPath found nosuch")
	}
}
