package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/runtime"
	"github.com/wasmbox/wasmbox/shims"
)

// Run a shell pipeline in a box made of the shell base layer, reusing the
// runtime (and so the compiled modules) for a second command. Outside
// tests, a box usually comes from the store: oci.Store.Resolve, then
// Image.Open for its layers.
func ExampleRuntime_Run() {
	ctx := context.Background()
	dir, err := testutil.Shims() // the built stand-ins
	if err != nil {
		log.Fatal(err)
	}
	var layer bytes.Buffer
	if _, err := shims.WriteBase(&layer, shims.Shell, dir); err != nil {
		log.Fatal(err)
	}
	base, err := fsimage.Open(bytes.NewReader(layer.Bytes()), int64(layer.Len()))
	if err != nil {
		log.Fatal(err)
	}

	rt, err := runtime.New(ctx, runtime.NewConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)

	box := runtime.NewOverlay(base) // a writable layer for this run
	err = rt.Run(ctx, box, runtime.Cmd{
		Args:   []string{"sh", "-c", "echo hello from the box | tr a-z A-Z > /tmp/out; cat /tmp/out"},
		Env:    []string{"PATH=/bin"},
		Stdout: os.Stdout,
	})
	fmt.Println("error:", err)

	err = rt.Run(ctx, runtime.NewOverlay(base), runtime.Cmd{Args: []string{"sh", "-c", "exit 3"}})
	if ee, ok := err.(*runtime.ExitError); ok {
		fmt.Println("exit status:", ee.ExitCode())
	}
	// Output:
	// HELLO FROM THE BOX
	// error: <nil>
	// exit status: 3
}
