// Command buildshims builds the box's multi-call module and prints the
// path of busybox.wasm:
//
//	go run ./shims/build/buildshims -o DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/wasmbox/wasmbox/shims/build"
)

func main() {
	out := flag.String("o", ".", "output `directory`")
	root := flag.String("root", "", "repository root (default: found from the working directory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var opts []build.Option
	if *root != "" {
		opts = append(opts, build.WithRoot(*root))
	}
	path, err := build.Build(ctx, *out, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildshims:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
