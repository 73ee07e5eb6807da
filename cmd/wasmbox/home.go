package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

// homeDir is $WASMBOX_HOME, else $XDG_DATA_HOME/wasmbox, else
// ~/.local/share/wasmbox.
func homeDir() (string, error) {
	if h := os.Getenv("WASMBOX_HOME"); h != "" {
		return filepath.Abs(h)
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "wasmbox"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("cannot tell where the store goes: set WASMBOX_HOME")
	}
	return filepath.Join(h, ".local", "share", "wasmbox"), nil
}

func openStore() (*oci.Store, error) {
	home, err := homeDir()
	if err != nil {
		return nil, err
	}
	return oci.OpenStore(filepath.Join(home, "oci"))
}

// newRuntime starts a runtime whose compiled modules are cached in the home.
func newRuntime(ctx context.Context) (*runtime.Runtime, error) {
	return newRuntimeWith(ctx, runtime.NewConfig())
}

// newRuntimeWith starts a runtime of cfg with the home's compilation cache.
func newRuntimeWith(ctx context.Context, cfg runtime.Config) (*runtime.Runtime, error) {
	home, err := homeDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(home, "cache", "compiled")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the compilation cache: %w", err)
	}
	return runtime.New(ctx, cfg.WithCompilationCacheDir(dir))
}

// precompile compiles the Wasm modules of the boxes digests into the
// compilation cache, and takes the snapshots of their programs, so their
// first run does neither: pull and load call it, as build does for what
// it builds. A failure only costs that first run time, or a snapshot.
func precompile(ctx context.Context, store *oci.Store, digests ...string) {
	rt, err := newRuntime(ctx)
	if err != nil {
		return
	}
	defer rt.Close(ctx)
	for _, d := range digests {
		box, err := runtime.OpenBox(store.Dir(), d)
		if err != nil {
			continue
		}
		rt.PrecompileBox(ctx, box)
		box.Close()
	}
	takeSnapshots(ctx, digests...)
}
