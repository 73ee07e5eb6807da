package main

import (
	"fmt"
	"os"
	"os/exec"
)

// runRunnerRowsOnly prints only the runner rows (bench -rows runner).
func runRunnerRowsOnly(wasmbox string) error {
	home, err := os.MkdirTemp("", "wasmbox-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	env := append(os.Environ(), "WASMBOX_HOME="+home)
	cmd := func(args ...string) func() error {
		return func() error {
			c := exec.Command(wasmbox, args...)
			c.Env = env
			if out, err := c.CombinedOutput(); err != nil {
				return fmt.Errorf("%v: %v\n%s", args, err, out)
			}
			return nil
		}
	}
	dir := os.Getenv("WASMBOX_SHIMS")
	rows, err := runnerRows(cmd, home, dir)
	if err != nil {
		return err
	}
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.what, r.value, r.note)
	}
	return nil
}
