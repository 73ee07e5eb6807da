package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/runtime"
)

// Exit statuses of `wasmbox run` besides the box's own (as docker run).
const (
	exitWasmboxFailed = 125
)

func newRunCmd() *cobra.Command {
	var (
		envs        []string
		workdir     string
		entrypoint  string
		interactive bool
	)
	cmd := &cobra.Command{
		Use:   "run [-e K=V]... [-w DIR] [--entrypoint CMD] [-i] IMAGE [ARG...]",
		Short: "Run a command in a new box",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := runBox(cmd, args, envs, workdir, entrypoint, interactive, cmd.Flags().Changed("entrypoint"))
			if err == nil {
				return nil
			}
			var ee *runtime.ExitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.ExitCode(), msg: ee.Reason()}
			}
			var xe *exitError
			if errors.As(err, &xe) {
				return err
			}
			return &exitError{code: exitWasmboxFailed, msg: err.Error()}
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitWasmboxFailed, msg: err.Error()}
	})
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after IMAGE belong to the box's command
	f.StringArrayVarP(&envs, "env", "e", nil, "set K=V in the box (K alone: the host's value of K)")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory in the box")
	f.StringVar(&entrypoint, "entrypoint", "", "override the image's ENTRYPOINT (and drop its CMD)")
	f.BoolVarP(&interactive, "interactive", "i", false, "connect standard input to the box")
	return cmd
}

func runBox(cmd *cobra.Command, args, envs []string, workdir, entrypoint string, interactive, entrypointSet bool) error {
	ctx := cmd.Context()
	store, err := openStore()
	if err != nil {
		return err
	}
	img, err := store.Resolve(args[0])
	if err != nil {
		return err
	}
	cfg := img.Config.Config
	argv := cfg.Entrypoint
	cmdArgs := cfg.Cmd
	if entrypointSet {
		argv, cmdArgs = nil, nil
		if entrypoint != "" {
			argv = []string{entrypoint}
		}
	}
	if len(args) > 1 {
		cmdArgs = args[1:]
	}
	argv = append(append([]string{}, argv...), cmdArgs...)
	if len(argv) == 0 {
		return &exitError{code: exitWasmboxFailed, msg: "no command: the image has no ENTRYPOINT or CMD and none was given"}
	}
	env := append([]string{}, cfg.Env...)
	for _, e := range envs {
		k, v, ok := strings.Cut(e, "=")
		if k == "" {
			return &exitError{code: exitWasmboxFailed, msg: fmt.Sprintf("-e %q: empty variable name", e)}
		}
		if !ok {
			// -e K grants the host's K explicitly, as docker run.
			hv, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = hv
		}
		env = setEnv(env, k, v)
	}
	env = defaultEnv(env, "HOSTNAME", "wasmbox")
	env = defaultEnv(env, "HOME", "/root")
	dir := workdir
	if dir == "" {
		dir = cfg.WorkingDir
	}
	if dir == "" {
		dir = "/"
	}
	if !strings.HasPrefix(dir, "/") {
		return &exitError{code: exitWasmboxFailed, msg: fmt.Sprintf("-w %q: the working directory must be absolute", dir)}
	}
	tree, closer, err := img.Open()
	if err != nil {
		return err
	}
	defer closer.Close()
	rt, err := newRuntime(ctx)
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	var stdin io.Reader
	if interactive {
		stdin = os.Stdin
	}
	return rt.Run(ctx, runtime.NewOverlay(tree), runtime.Cmd{
		Args:   argv,
		Env:    env,
		Dir:    dir,
		Stdin:  stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	})
}

func setEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

func defaultEnv(env []string, key, value string) []string {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return env
		}
	}
	return append(env, key+"="+value)
}
