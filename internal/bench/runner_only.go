package main

import (
	"fmt"
	"os"
)

// runRunnerRowsOnly prints only the runner rows (bench -rows runner).
func runRunnerRowsOnly(wasmbox string) error {
	home, err := os.MkdirTemp("", "wasmbox-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	cmd := cliRunner(wasmbox, append(os.Environ(), "WASMBOX_HOME="+home))
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
