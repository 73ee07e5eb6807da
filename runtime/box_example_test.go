package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

// buildExampleBox builds a small box into a new store and returns the
// store's image layout directory; an embedding program would use
// $WASMBOX_HOME/oci, filled by `wasmbox build` or `wasmbox pull`.
func buildExampleBox(ctx context.Context, rt *runtime.Runtime) (layout string, cleanup func()) {
	shimsDir, err := testutil.Shims()
	if err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "wasmbox-example-")
	if err != nil {
		log.Fatal(err)
	}
	df := "FROM alpine:3.20\nWORKDIR /work\nENV GREETING=hello\nENTRYPOINT [\"sh\", \"-c\", \"echo \\\"$GREETING\\\" \\\"$@\\\"\", \"greeter\"]\nCMD [\"world\"]\n"
	if err := os.WriteFile(filepath.Join(tmp, "Dockerfile"), []byte(df), 0o644); err != nil {
		log.Fatal(err)
	}
	store, err := oci.OpenStore(filepath.Join(tmp, "home"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := convert.Build(ctx, store, rt, tmp, convert.WithTags("greeter"), convert.WithShimsDir(shimsDir)); err != nil {
		log.Fatal(err)
	}
	return store.Dir(), func() { os.RemoveAll(tmp) }
}

// Open a box from an OCI image layout and run it as `docker run` would,
// with its ENTRYPOINT and CMD, then with arguments of our own.
func ExampleOpenBox() {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)
	layout, cleanup := buildExampleBox(ctx, rt)
	defer cleanup()

	box, err := runtime.OpenBox(layout, "greeter")
	if err != nil {
		log.Fatal(err)
	}
	defer box.Close()

	cmd := box.Command() // ENTRYPOINT + CMD, the image's env and workdir
	cmd.Stdout = os.Stdout
	if err := rt.RunBox(ctx, box, cmd); err != nil {
		log.Fatal(err)
	}
	cmd = box.Command("from", "Go")
	cmd.Stdout = os.Stdout
	if err := rt.RunBox(ctx, box, cmd); err != nil {
		log.Fatal(err)
	}
	// Output:
	// hello world
	// hello from Go
}

// Per-run configuration: a host directory mounted read-only, limits, and a
// typed error when a limit ends the run. Many runs of one box can go on at
// once; the compiled modules are shared.
func ExampleRuntime_RunBox() {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)
	layout, cleanup := buildExampleBox(ctx, rt)
	defer cleanup()
	box, err := runtime.OpenBox(layout, "greeter")
	if err != nil {
		log.Fatal(err)
	}
	defer box.Close()

	data, err := os.MkdirTemp("", "wasmbox-data-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(data)
	os.WriteFile(filepath.Join(data, "input.txt"), []byte("3 lines\nof\ninput\n"), 0o644)
	dir, err := runtime.OpenHostDir(data)
	if err != nil {
		log.Fatal(err)
	}
	defer dir.Close()

	// Ten runs at once, each reading the mount.
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 10)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := rt.RunBox(ctx, box, runtime.Cmd{
				Args:   []string{"wc", "-l", "/data/input.txt"},
				Stdout: &outs[i],
				Mounts: []runtime.Mount{{Target: "/data", Volume: dir, ReadOnly: true}},
				Limits: runtime.Limits{Memory: 256 << 20, Processes: 4},
			})
			if err != nil {
				log.Fatal(err)
			}
		}()
	}
	wg.Wait()
	same := true
	for i := range outs {
		same = same && outs[i].String() == outs[0].String()
	}
	fmt.Printf("%s", outs[0].String())
	fmt.Println("all ten the same:", same)

	// A process bomb ends at the limit, with a typed error.
	err = rt.RunBox(ctx, box, runtime.Cmd{
		Args:   []string{"sh", "-c", "f() { sh -c 'sleep 1' & f; }; f"},
		Limits: runtime.Limits{Processes: 8},
	})
	var ee *runtime.ExitError
	if errors.As(err, &ee) {
		fmt.Println(ee.ExitCode(), strings.TrimSpace(ee.Reason))
	}
	// Output:
	// 3 /data/input.txt
	// all ten the same: true
	// 137 process limit of 8 reached
}
