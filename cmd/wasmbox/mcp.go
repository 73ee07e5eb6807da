package main

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/serve"
)

func newMCPCmd() *cobra.Command {
	// The HTTP API's sessions are not served here: its defaults stand.
	sf := serveFlags{concurrency: goruntime.GOMAXPROCS(0), queue: 64, maxBody: "10m", sessionTTL: 10 * time.Minute, maxSessions: 1}
	cmd := &cobra.Command{
		Use:   "mcp [--memory N] [--timeout D] [--pids N] [--output N] [-v HOST:BOX[:ro]]... BOX",
		Short: "Serve the MCP tools of a box over stdio, for an agent to run code in it",
		Long: `Serve the tools run_python_code, run_shell_command, read_file and write_file
over MCP on standard input and output, in the box BOX. The connection is one
box instance: files written by one call are there for the next; each run is
a new process.

The box, its mounts and the limits are fixed here, by the operator; no tool
argument widens them, and the box has no network unless --network grants
it (the same rules as run's). For MCP over HTTP, see
wasmbox serve --mcp.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := runMCP(cmd, &sf, args[0])
			var xe *exitError
			if err != nil && !errors.As(err, &xe) {
				return &exitError{code: exitWasmboxFailed, msg: err.Error()}
			}
			return err
		},
	}
	sf.runFlags(cmd.Flags())
	return cmd
}

func runMCP(cmd *cobra.Command, sf *serveFlags, ref string) error {
	ctx := cmd.Context()
	opts, closeMounts, err := sf.options()
	if err != nil {
		return err
	}
	defer closeMounts()
	store, err := openStore()
	if err != nil {
		return err
	}
	rt, err := serveRuntime(ctx)
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	srv, err := serve.New(ctx, rt, store.Dir(), opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	tools, err := srv.MCP(ctx, ref)
	if err != nil {
		return fmt.Errorf("box %s: %w", ref, err)
	}
	return tools.Run(ctx, &mcp.StdioTransport{})
}
