// Command wasmbox builds Dockerfiles into WebAssembly boxes and runs them
// in a capability sandbox.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries an exit status out of a command.
type exitError struct {
	code int
	msg  string // printed on stderr when not empty
}

func (e *exitError) Error() string { return e.msg }

func main() { os.Exit(wasmboxMain()) }

// wasmboxMain runs the command line and returns the exit status.
func wasmboxMain() int {
	ctx, stop := signalContext()
	defer stop()
	err := newRootCmd().ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "wasmbox:", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "wasmbox:", err)
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "wasmbox",
		Short:         "Build Dockerfiles into WebAssembly boxes and run them in a sandbox",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionText(),
	}
	root.SetVersionTemplate("{{.Version}}")
	root.AddCommand(newBuildCmd(), newRunCmd(), newImagesCmd(), newInspectCmd(), newRmCmd(),
		newPullCmd(), newPushCmd(), newTagCmd(), newSaveCmd(), newLoadCmd(), newVersionCmd(),
		newSystemCmd(), newPruneCmd(), newServeCmd(), newMCPCmd(), newSnapshotWorkerCmd())
	return root
}
