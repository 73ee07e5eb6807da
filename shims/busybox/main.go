// Command busybox is the box's multi-call module (/bin/busybox, built for
// GOOS=wasip1 by shims/build): the shell and the core utilities, chosen by
// the base name of argv[0] (sh, ls, ...), or `busybox APPLET [ARG...]`.
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
