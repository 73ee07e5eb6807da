package shell_test

import (
	"context"
	"fmt"
	"os"

	"github.com/wasmbox/wasmbox/shims/busybox/applets"
	"github.com/wasmbox/wasmbox/shims/busybox/shell"
)

func ExampleMain() {
	env := &applets.Env{
		Stdout:  os.Stdout,
		Stderr:  os.Stdout,
		Dir:     "/",
		Environ: []string{"PATH=/bin"},
	}
	status := shell.Main(context.Background(), env, []string{"sh", "-c", `for w in "$@"; do echo "$0: $w"; done; exit 3`, "greet", "hello", "box"})
	fmt.Println("status", status)
	// Output:
	// greet: hello
	// greet: box
	// status 3
}
