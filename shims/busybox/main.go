package main

import (
	"context"
	"os"

	"github.com/wasmbox/wasmbox/shims/busybox/applets"
	"github.com/wasmbox/wasmbox/shims/busybox/shell"
)

func main() {
	installHooks()
	// Go on wasip1 takes its working directory from PWD.
	dir, err := os.Getwd()
	if err != nil {
		dir = "/"
	}
	env := &applets.Env{
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Dir:     dir,
		Environ: os.Environ(),
		Exec:    shell.Exec,
	}
	os.Exit(shell.Multicall(context.Background(), env, os.Args))
}
