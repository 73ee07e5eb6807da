package build_test

import (
	"context"
	"fmt"

	"github.com/wasmbox/wasmbox/shims/build"
)

// Build from anywhere inside the repository; a second call with unchanged
// sources returns at once.
func ExampleBuild() {
	path, err := build.Build(context.Background(), ".cache/shims")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(path)
}
