package hello_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

// TestHelloShell builds this example as `wasmbox build` does and runs its
// CMD as `wasmbox run` does.
func TestHelloShell(t *testing.T) {
	ctx := context.Background()
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	res, err := convert.Build(ctx, store, rt, ".", convert.WithTags("hello-shell"), convert.WithShimsDir(testutil.ShimsDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	img, err := store.Resolve("hello-shell")
	if err != nil {
		t.Fatal(err)
	}
	if img.Descriptor.Digest != res.Descriptor.Digest {
		t.Fatalf("hello-shell is %s, built %s", img.Descriptor.Digest, res.Descriptor.Digest)
	}
	tree, closer, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	var out bytes.Buffer
	cfg := img.Config.Config
	if err := rt.Run(ctx, runtime.NewOverlay(tree), runtime.Cmd{Args: cfg.Cmd, Env: cfg.Env, Dir: cfg.WorkingDir, Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want, err := os.ReadFile("want-output")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
