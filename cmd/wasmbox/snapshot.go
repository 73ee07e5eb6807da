package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/runtime"
)

// Snapshots are taken by running the box's own initialization (runtime's
// SnapshotBox). The CLI's runtime is not interruptible (its code runs
// faster), so a box whose initialization spins without system calls could
// not be stopped in-process: build, pull and load take snapshots in a
// process of their own, killed when it overruns snapshotTimeout. The same
// process compiles the box's code for a server too (interruptible, kept
// apart in the cache), so that a server's first run of a box just built,
// pulled or loaded compiles nothing.

// snapshotTimeoutVar overrides the bound on taking a box's snapshots.
const snapshotTimeoutVar = "WASMBOX_SNAPSHOT_TIMEOUT"

const defaultSnapshotTimeout = 2 * time.Minute

func snapshotTimeout() (time.Duration, error) {
	v := os.Getenv(snapshotTimeoutVar)
	if v == "" {
		return defaultSnapshotTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: not a positive duration (such as 90s)", snapshotTimeoutVar, v)
	}
	return d, nil
}

// takeSnapshots takes the snapshots of the boxes digests in a worker
// process, and returns what failed.
func takeSnapshots(ctx context.Context, digests ...string) error {
	timeout, err := snapshotTimeout()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, append([]string{snapshotWorkerCmd}, digests...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err = cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("initialization did not end within %s (%s)", timeout, snapshotTimeoutVar)
	case errb.Len() > 0:
		return errors.New(strings.TrimPrefix(strings.TrimSpace(errb.String()), "wasmbox: "))
	}
	return err
}

// snapshotWorkerCmd is the hidden command of the worker process.
const snapshotWorkerCmd = "__snapshot"

func newSnapshotWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    snapshotWorkerCmd + " DIGEST...",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			store, err := openStore()
			if err != nil {
				return err
			}
			rt, err := newRuntime(ctx)
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			irt, err := newRuntimeWith(ctx, runtime.NewConfig().WithInterruptible(true))
			if err != nil {
				return err
			}
			defer irt.Close(ctx)
			var errs []error
			for _, d := range args {
				box, err := runtime.OpenBox(store.Dir(), d)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				// The server's code compiles beside the snapshots'
				// taking (2 cores: about the time of one).
				done := make(chan struct{})
				go func() {
					defer close(done)
					irt.PrecompileBox(ctx, box)
				}()
				errs = append(errs, rt.SnapshotBox(ctx, box))
				<-done
				// Loads the snapshots just taken, compiling the module
				// they start from for the server.
				irt.SnapshotBox(ctx, box)
				box.Close()
			}
			return errors.Join(errs...)
		},
	}
}
