package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/internal/envlist"
	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
	"github.com/wasmbox/wasmbox/serve"
)

// Exit statuses of `wasmbox run` besides the box's own (as docker run).
const (
	exitWasmboxFailed = 125
	exitInterrupted   = 130 // 128 + SIGINT
)

// runFlags are the flags of wasmbox run.
type runFlags struct {
	envs, envFiles, volumes, tmpfs []string
	workdir, entrypoint            string
	user, hostname                 string
	interactive, readOnly          bool
	memory, logLimit               string
	timeout                        time.Duration
	pids                           int
	ulimits                        []string
	pidsSet                        bool
	entrypointSet                  bool
	pull                           string
	insecure                       []string
	network, publish, addHosts     []string
	dns, networkLog                string
}

func newRunCmd() *cobra.Command {
	var rf runFlags
	cmd := &cobra.Command{
		Use:   "run [-e K=V]... [--env-file F]... [-v HOST:BOX[:ro]]... [--tmpfs DIR]... [--read-only] [-w DIR] [-u USER] [--hostname NAME] [--entrypoint CMD] [-i] [--memory N] [--timeout D] [--pids N] [--ulimit nofile=N] [--log-limit N] [--network none|all|allow=RULE,...|deny=RULE,...]... [-p [HOSTIP:]HOSTPORT:BOXPORT]... [--add-host NAME:IP]... [--dns IP] [--network-log FILE] IMAGE [ARG...]",
		Short: "Run a command in a new box",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rf.entrypointSet = cmd.Flags().Changed("entrypoint")
			err := runBox(cmd, args, &rf)
			if err == nil {
				return nil
			}
			var ee *runtime.ExitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.ExitCode(), msg: ee.Reason}
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
	f.StringArrayVarP(&rf.envs, "env", "e", nil, "set K=V in the box (K alone: the host's value of K)")
	f.StringArrayVar(&rf.envFiles, "env-file", nil, "read K=V lines from a file (as docker run)")
	f.StringArrayVarP(&rf.volumes, "volume", "v", nil, "mount the host directory HOST at BOX: HOST:BOX[:ro|rw]")
	f.StringArrayVar(&rf.tmpfs, "tmpfs", nil, "mount an empty in-memory directory: DIR[:size=N]")
	f.BoolVar(&rf.readOnly, "read-only", false, "no writable layer: the box's own files cannot be changed")
	f.StringVarP(&rf.workdir, "workdir", "w", "", "working directory in the box")
	f.StringVarP(&rf.user, "user", "u", "", "run as this user of the box: NAME|UID[:GROUP|GID] (default: the image's USER)")
	f.StringVar(&rf.hostname, "hostname", "", "the box's host name (default "+runtime.DefaultHostname+")")
	f.StringVar(&rf.entrypoint, "entrypoint", "", "override the image's ENTRYPOINT (and drop its CMD)")
	f.BoolVarP(&rf.interactive, "interactive", "i", false, "connect standard input to the box")
	def := runtime.DefaultLimits
	f.StringVarP(&rf.memory, "memory", "m", "", fmt.Sprintf("memory limit (Wasm memory and the files, names and links the box writes), e.g. 64m; default %s, 0 for none", units.Size(def.Memory)))
	f.DurationVar(&rf.timeout, "timeout", 0, "end the box after this wall time, e.g. 30s")
	f.IntVar(&rf.pids, "pids", 0, fmt.Sprintf("the most processes the box may have at once; default %d, 0 or -1 for none", def.Processes))
	f.IntVar(&rf.pids, "pids-limit", 0, "same as --pids (docker's name)")
	f.StringArrayVar(&rf.ulimits, "ulimit", nil, fmt.Sprintf("nofile=N: the most files the box may hold open at once, all processes together; default %d, -1 for none", def.Files))
	f.StringVar(&rf.pull, "pull", "missing", "pull the box from its registry before running: missing (when not in the store), always, never")
	f.StringArrayVar(&rf.insecure, "insecure-registry", nil, "reach registry HOST[:PORT] over plain HTTP when pulling (loopback registries always are)")
	f.StringVar(&rf.logLimit, "log-limit", "", "show at most this much output (stdout and stderr together), e.g. 10m; the rest is dropped and counted")
	addNetworkFlags(f, &rf.network, &rf.addHosts, &rf.dns, &rf.networkLog, "none")
	f.StringArrayVarP(&rf.publish, "publish", "p", nil, "publish the box's port BOXPORT on the host: [HOSTIP:]HOSTPORT:BOXPORT (HOSTIP default 127.0.0.1); a box listens on published ports only")
	return cmd
}

func runBox(cmd *cobra.Command, args []string, rf *runFlags) error {
	ctx := cmd.Context()
	rf.pidsSet = cmd.Flags().Changed("pids") || cmd.Flags().Changed("pids-limit")
	req, err := rf.request(args)
	if err != nil {
		return err
	}
	stdout, stderr, stop, err := rf.output()
	if err != nil {
		return err
	}
	defer stop()
	var stdin io.Reader
	if rf.interactive {
		stdin = os.Stdin
	}
	// The warm path: the home's server, when one runs (wasmbox serve),
	// runs the box as this process would, and starts it warm.
	// --pull always pulls first, in-process.
	sock, ok := "", false
	if rf.pull != "always" {
		sock, ok = serverSocket()
	}
	if ok {
		e, err := serve.Exec(ctx, sock, req, stdin, stdout, stderr)
		if ie, ok := interrupted(ctx); ok {
			return ie
		}
		switch {
		case err == nil:
			return execError(e)
		case !errors.Is(err, serve.ErrNoServer):
			return err
		}
		// No server after all, or it has no such box: in-process, which
		// pulls a missing box.
	}
	store, err := openStore()
	if err != nil {
		return err
	}
	box, err := rf.openBox(cmd, store, args[0])
	if err != nil {
		return err
	}
	defer box.Close()
	rcmd, closeMounts, err := req.Cmd(box)
	if err != nil {
		return &exitError{code: exitWasmboxFailed, msg: err.Error()}
	}
	defer closeMounts()
	// One run, then the process exits: loading a snapshot would cost
	// about what it saves (a server keeps them loaded).
	rt, err := newRuntimeWith(ctx, runtime.NewConfig().WithSnapshots(false))
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	rcmd.Stdin, rcmd.Stdout, rcmd.Stderr = stdin, stdout, stderr
	err = rt.RunBox(ctx, box, rcmd)
	if e, ok := interrupted(ctx); ok {
		// Interrupted (SIGINT, SIGTERM): the box ended at its next call;
		// the status is the shell's for the signal.
		return e
	}
	return err
}

// serverSocket is the home's server socket, when a server runs there or,
// with WASMBOX_DAEMON=auto, once one was started.
func serverSocket() (string, bool) {
	home, err := homeDir()
	if err != nil {
		return "", false
	}
	sock := filepath.Join(home, "serve.sock")
	auto := os.Getenv(envDaemon) == "auto"
	if st, err := os.Stat(sock); err == nil && st.Mode().Type() == os.ModeSocket {
		if !auto || answers(sock) {
			return sock, true // (a stale one: Exec finds out, run goes on in-process)
		}
		// Stale (its server was killed): start another, which replaces it.
	}
	if auto {
		return sock, startDaemon(home, sock)
	}
	return "", false
}

// execError is the error of a run the server reports, as RunBox would
// have returned it in-process.
func execError(e serve.ExecExit) error {
	switch {
	case e.Error != "":
		return &exitError{code: exitWasmboxFailed, msg: e.Error}
	case e.Code != 0 || e.Cause != runtime.CauseExit:
		return &runtime.ExitError{Code: e.Code, Cause: e.Cause, Reason: e.Reason}
	}
	return nil
}

// request is the run the flags and args ask for, resolved here (the
// environment, the env files, host paths) so that it runs the same in
// this process or in the home's server.
func (rf *runFlags) request(args []string) (*serve.ExecRequest, error) {
	limits, err := rf.limits()
	if err != nil {
		return nil, &exitError{code: exitWasmboxFailed, msg: err.Error()}
	}
	env, err := rf.env()
	if err != nil {
		return nil, err
	}
	if dir := rf.workdir; dir != "" && !strings.HasPrefix(dir, "/") {
		return nil, &exitError{code: exitWasmboxFailed, msg: fmt.Sprintf("-w %q: the working directory must be absolute", dir)}
	}
	req := &serve.ExecRequest{
		Box:      args[0],
		Args:     args[1:],
		Env:      env,
		Workdir:  rf.workdir,
		User:     rf.user,
		Hostname: rf.hostname,
		ReadOnly: rf.readOnly,
		Limits:   limits,
		Stdin:    rf.interactive,
	}
	if rf.entrypointSet {
		req.Entrypoint = &rf.entrypoint
	}
	if req.Volumes, req.Tmpfs, err = rf.mountSpecs(); err != nil {
		return nil, &exitError{code: exitWasmboxFailed, msg: err.Error()}
	}
	if req.Network, err = networkSpec(rf.network, rf.publish, rf.addHosts, rf.dns, rf.networkLog); err != nil {
		return nil, &exitError{code: exitWasmboxFailed, msg: err.Error()}
	}
	return req, nil
}

// env is what --env-file and -e set, in that order (RunBox puts it over
// the image's environment).
func (rf *runFlags) env() ([]string, error) {
	var env, settings []string
	for _, name := range rf.envFiles {
		lines, err := readEnvFile(name)
		if err != nil {
			return nil, &exitError{code: exitWasmboxFailed, msg: err.Error()}
		}
		settings = append(settings, lines...)
	}
	for _, e := range append(settings, rf.envs...) {
		k, v, ok := strings.Cut(e, "=")
		if k == "" {
			return nil, &exitError{code: exitWasmboxFailed, msg: fmt.Sprintf("-e %q: empty variable name", e)}
		}
		if !ok {
			// -e K grants the host's K explicitly, as docker run.
			hv, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = hv
		}
		env = envlist.Set(env, k, v)
	}
	return env, nil
}

// output is where the box's output goes (capped by --log-limit), and
// starts the --timeout clock; stop stops it and reports what the cap
// dropped.
func (rf *runFlags) output() (stdout, stderr io.Writer, stop func(), err error) {
	stdout, stderr = os.Stdout, os.Stderr
	var capped *outputCap
	if rf.logLimit != "" {
		n, err := parseSize(rf.logLimit)
		if err != nil {
			return nil, nil, nil, &exitError{code: exitWasmboxFailed, msg: "--log-limit: " + err.Error()}
		}
		capped = &outputCap{limit: n}
		stdout, stderr = capped.writer(os.Stdout), capped.writer(os.Stderr)
	}
	stopTimer := func() bool { return false }
	if rf.timeout > 0 {
		// The CLI ends its own process: cheaper than making the running
		// code check for an end in every loop (runtime.Config.WithInterruptible).
		t := time.AfterFunc(rf.timeout, func() {
			if capped != nil {
				capped.report(os.Stderr)
			}
			fmt.Fprintf(os.Stderr, "wasmbox: time limit of %s reached\n", rf.timeout)
			os.Exit(runtime.ExitKilled)
		})
		stopTimer = t.Stop
	}
	return stdout, stderr, func() {
		stopTimer()
		if capped != nil {
			capped.report(os.Stderr)
		}
	}, nil
}

// openBox opens the box ref, pulling it first as --pull says (docker
// run's policy): missing, when the store has no box of that reference;
// always; never. It opens the box once, with the library API an embedding
// program uses and the reference rule of every command.
func (rf *runFlags) openBox(cmd *cobra.Command, store *oci.Store, ref string) (*runtime.Box, error) {
	switch rf.pull {
	case "missing", "always", "never":
	default:
		return nil, &exitError{code: exitWasmboxFailed, msg: fmt.Sprintf("--pull %q: want missing, always or never", rf.pull)}
	}
	if rf.pull != "always" {
		box, err := runtime.OpenBox(store.Dir(), ref)
		if rf.pull == "never" || !errors.Is(err, oci.ErrNotFound) {
			return box, err
		}
		if strings.HasPrefix(ref, "sha256:") {
			// A digest of the store names nothing a registry could have.
			return nil, err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "wasmbox: %s is not in the store: pulling it\n", ref)
	}
	f := transferFlags{insecure: rf.insecure}
	name, digest, err := pullRef(cmd.Context(), store, ref, f.options(cmd, "pull", false), cmd.ErrOrStderr(), false)
	if err != nil && rf.pull == "missing" {
		return nil, fmt.Errorf("%s: %w in the store, and pulling it failed: %w", ref, oci.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "pulled %s: %s\n", name, digest)
	// Not precompiled as pull does: the run compiles what it runs, into
	// the same cache, and the box is opened once.
	return runtime.OpenBox(store.Dir(), digest)
}

func (rf *runFlags) limits() (runtime.Limits, error) {
	// Zero fields are runtime.DefaultLimits; a flag asks for another
	// limit or, with 0 (docker's way), for none.
	var l runtime.Limits
	if rf.memory != "" {
		n, err := parseSize(rf.memory)
		switch {
		case err != nil:
			return l, fmt.Errorf("--memory: %v", err)
		case n == 0:
			l.Memory = runtime.Unlimited
		case n < 1<<20:
			return l, fmt.Errorf("--memory %s: at least 1m (or 0 for no limit)", rf.memory)
		default:
			l.Memory = n
		}
	}
	switch {
	case rf.pids < -1:
		return l, fmt.Errorf("--pids %d: want a positive number, or 0 or -1 for no limit", rf.pids)
	case rf.pidsSet && rf.pids <= 0:
		l.Processes = runtime.Unlimited
	default:
		l.Processes = rf.pids
	}
	for _, u := range rf.ulimits {
		name, val, _ := strings.Cut(u, "=")
		if name != "nofile" {
			return l, fmt.Errorf("--ulimit %s: only nofile=N is supported (a box has no other kernel limits)", u)
		}
		soft, _, _ := strings.Cut(val, ":") // docker's soft:hard; the box has one limit
		n, err := strconv.Atoi(soft)
		switch {
		case err != nil || n == 0 || n < -1:
			return l, fmt.Errorf("--ulimit %s: want nofile=N with N positive, or -1 for no limit", u)
		case n == -1:
			l.Files = runtime.Unlimited
		default:
			l.Files = n
		}
	}
	if rf.timeout < 0 {
		return l, fmt.Errorf("--timeout %s: must not be negative", rf.timeout)
	}
	return l, nil
}

// mountSpecs are the -v and --tmpfs mounts, checked; host paths absolute.
func (rf *runFlags) mountSpecs() ([]serve.VolumeSpec, []serve.TmpfsSpec, error) {
	var vols []serve.VolumeSpec
	var tmps []serve.TmpfsSpec
	for _, v := range rf.volumes {
		host, guest, mode, err := parseVolume(v)
		if err != nil {
			return nil, nil, err
		}
		if host, err = filepath.Abs(host); err != nil {
			return nil, nil, fmt.Errorf("-v %s: %v", v, err)
		}
		vols = append(vols, serve.VolumeSpec{Flag: v, Host: host, Target: guest, ReadOnly: mode == "ro"})
	}
	for _, t := range rf.tmpfs {
		target, opts, _ := strings.Cut(t, ":")
		if !strings.HasPrefix(target, "/") {
			return nil, nil, fmt.Errorf("--tmpfs %s: the directory must be absolute", t)
		}
		spec := serve.TmpfsSpec{Target: path.Clean(target)}
		if opts != "" {
			for _, o := range strings.Split(opts, ",") {
				k, val, _ := strings.Cut(o, "=")
				switch k {
				case "size":
					n, err := parseSize(val)
					if err != nil {
						return nil, nil, fmt.Errorf("--tmpfs %s: size: %v", t, err)
					}
					spec.Size = n
				case "rw":
				case "ro":
					spec.ReadOnly = true
				default:
					return nil, nil, fmt.Errorf("--tmpfs %s: unknown option %q (want size=N, rw or ro)", t, o)
				}
			}
		}
		tmps = append(tmps, spec)
	}
	return vols, tmps, nil
}

// parseVolume splits HOST:BOX[:ro|rw]; HOST must be a path (absolute, or
// relative starting with . or ..): a box has no named volumes.
func parseVolume(v string) (host, guest, mode string, err error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return "", "", "", fmt.Errorf("-v %s: want HOST:BOX[:ro|rw]", v)
	}
	host, guest, mode = parts[0], parts[1], "rw"
	if len(parts) == 3 {
		mode = parts[2]
		if mode != "ro" && mode != "rw" {
			return "", "", "", fmt.Errorf("-v %s: mode %q: want ro or rw", v, mode)
		}
	}
	if !filepath.IsAbs(host) && !strings.HasPrefix(host, ".") {
		return "", "", "", fmt.Errorf("-v %s: %q is not a path (named volumes do not exist in wasmbox; give an absolute or ./relative host directory)", v, host)
	}
	if host, err = filepath.Abs(host); err != nil {
		return "", "", "", fmt.Errorf("-v %s: %v", v, err)
	}
	if !path.IsAbs(guest) {
		return "", "", "", fmt.Errorf("-v %s: the box directory %q must be absolute", v, guest)
	}
	guest = path.Clean(guest)
	if guest == "/" {
		return "", "", "", fmt.Errorf("-v %s: the box's root cannot be a mount", v)
	}
	return host, guest, mode, nil
}

// parseSize reads a size as docker does: a number with an optional unit
// b, k, m or g (powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	if strings.HasSuffix(t, "i") {
		t = strings.TrimSuffix(t, "i")
	}
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (want a number with an optional unit b, k, m or g)", s)
	}
	return n * mult, nil
}

// readEnvFile reads a docker env file: KEY=VALUE or KEY lines; blank lines
// and lines starting with # are skipped; values are taken as they are.
func readEnvFile(name string) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %v", err)
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		k, _, _ := strings.Cut(trimmed, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("--env-file %s:%d: %q is not KEY=VALUE", name, i+1, line)
		}
		out = append(out, trimmed)
	}
	return out, nil
}

// outputCap lets through at most limit bytes of the box's output, stdout
// and stderr together, and counts what it drops: output is capped only
// when asked, and never silently.
type outputCap struct {
	mu       sync.Mutex
	limit    int64
	written  int64
	dropped  int64
	reported bool
}

type cappedWriter struct {
	c *outputCap
	w io.Writer
}

func (c *outputCap) writer(w io.Writer) io.Writer { return &cappedWriter{c: c, w: w} }

func (cw *cappedWriter) Write(p []byte) (int, error) {
	c := cw.c
	c.mu.Lock()
	room := c.limit - c.written
	n := int64(len(p))
	if n > room {
		n = max(room, 0)
	}
	c.written += n
	c.dropped += int64(len(p)) - n
	c.mu.Unlock()
	if n > 0 {
		if _, err := cw.w.Write(p[:n]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *outputCap) report(w io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped > 0 && !c.reported {
		c.reported = true
		fmt.Fprintf(w, "wasmbox: output limit of %d bytes reached: %d more bytes were not shown\n", c.limit, c.dropped)
	}
}
