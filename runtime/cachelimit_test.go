package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wasmbox/wasmbox/runtime"
)

// The compilation cache directory keeps within its limit: the modules
// compiled longest ago go first, and the newest stays.
func TestCompilationCacheLimit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	size := func() int64 {
		var n int64
		filepath.WalkDir(filepath.Join(dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(filepath.Dir(p))) != "wasmbox-compiled" {
				if info, err := d.Info(); err == nil {
					n += info.Size()
				}
			}
			return nil
		})
		return n
	}
	compile := func(rt *runtime.Runtime, i int) {
		o := runtime.NewOverlay(nil)
		p := "/m" + strconv.Itoa(i)
		if err := o.WriteFile(p, withCustomSection(wasmModule(1, ""), 64<<10+i), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := rt.Precompile(ctx, o, p); err != nil {
			t.Fatal(err)
		}
	}
	// One module's share of the directory, without a limit.
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(dir).WithCompilationCacheLimit(runtime.Unlimited))
	if err != nil {
		t.Fatal(err)
	}
	compile(rt, 0)
	one := size()
	rt.Close(ctx)
	if one == 0 {
		t.Fatal("compiling wrote nothing to the cache directory")
	}
	limit := 3*one + one/2
	rt, err = runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(dir).WithCompilationCacheLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	for i := 1; i <= 10; i++ {
		compile(rt, i)
		if got := size(); got > limit {
			t.Fatalf("after module %d the cache holds %d bytes, past its limit of %d", i, got, limit)
		}
	}
	if got := size(); got < 2*one {
		t.Errorf("the cache holds %d bytes: evicted more than needed (one module: %d)", got, one)
	}
}
