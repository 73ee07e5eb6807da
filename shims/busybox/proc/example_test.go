package proc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/wasmbox/wasmbox/shims/busybox/proc"
)

// Run a program of the box with the guest's own stdout and stderr (shared,
// not copied) and a string as its stdin (pumped through a pipe).
func ExampleStart() {
	p, err := proc.Start(context.Background(), &proc.Cmd{
		Path:   "/usr/bin/python3",
		Args:   []string{"python3", "-"},
		Env:    []string{"PATH=/usr/bin:/bin"},
		Dir:    "/app",
		Stdin:  strings.NewReader("print(1 + 1)\n"),
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	})
	var se *proc.StartError
	switch {
	case errors.As(err, &se):
		fmt.Fprintln(os.Stderr, se)
		os.Exit(se.ExitCode()) // 127 not found, 126 cannot execute
	case err != nil:
		fmt.Fprintln(os.Stderr, err) // e.g. no wasmbox_proc outside a box
		return
	}
	status, err := p.Wait()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	fmt.Println("exit status", status)
}
