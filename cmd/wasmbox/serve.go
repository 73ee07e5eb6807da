package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/runtime"
	"github.com/wasmbox/wasmbox/serve"
)

// serveFlags are the flags of wasmbox serve.
type serveFlags struct {
	socket, listen, tokenFile string
	boxes, volumes            []string
	concurrency, queue, pids  int
	maxSessions               int
	mcp                       string
	idleExit                  time.Duration
	maxBody, memory, output   string
	timeout, sessionTTL       time.Duration
	network, addHosts         []string
	dns, networkLog           string
}

// envServeToken is where serve takes its bearer token from without
// --token-file.
const envServeToken = "WASMBOX_SERVE_TOKEN"

func newServeCmd() *cobra.Command {
	var sf serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--socket PATH | --listen HOST:PORT --token-file F] [--box NAME]... [--concurrency N] [--queue N] [--memory N] [--timeout D] [--pids N] [-v HOST:BOX:ro]...",
		Short: "Serve the HTTP API for agents: runs and sessions of boxes on a warm runtime",
		Long: `Serve the HTTP API (serve/openapi.json, also at GET /v1/openapi.json) on a
Unix socket, $WASMBOX_HOME/serve.sock by default (mode 0600), or on TCP with
--listen, which requires a bearer token (--token-file or $` + envServeToken + `).

The flags are ceilings: a request may lower a limit, never raise one, and
cannot add mounts or network. SIGINT or SIGTERM stops accepting and drains
the requests in progress; a second signal ends them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := runServe(cmd, &sf)
			var xe *exitError
			if err != nil && !errors.As(err, &xe) {
				return &exitError{code: exitWasmboxFailed, msg: err.Error()}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&sf.socket, "socket", "", "listen on this Unix socket (default $WASMBOX_HOME/serve.sock)")
	f.StringVar(&sf.listen, "listen", "", "listen on TCP HOST:PORT instead (needs a token)")
	f.StringVar(&sf.tokenFile, "token-file", "", "read the bearer token every request must carry from this file (default $"+envServeToken+")")
	f.StringArrayVar(&sf.boxes, "box", nil, "open and compile this box at start (others are opened at their first request)")
	f.IntVar(&sf.concurrency, "concurrency", goruntime.GOMAXPROCS(0), "runs executing at once")
	f.IntVar(&sf.queue, "queue", 64, "requests waiting for a run slot; past it, 429 with Retry-After")
	f.StringVar(&sf.maxBody, "max-body", "10m", "the largest request body (413 past it)")
	f.DurationVar(&sf.sessionTTL, "session-ttl", 10*time.Minute, "a session ends when idle this long")
	f.IntVar(&sf.maxSessions, "max-sessions", 64, "sessions open at once")
	f.DurationVar(&sf.idleExit, "idle-exit", 0, "exit after this long without a request or an open session (0: never)")
	f.StringVar(&sf.mcp, "mcp", "", "also serve the MCP tools of this box over streamable HTTP at /mcp")
	sf.runFlags(f)
	return cmd
}

// runFlags are the flags every run of the server gets: its limits and
// the operator's mounts (serve's and mcp's).
func (sf *serveFlags) runFlags(f *pflag.FlagSet) {
	f.StringVarP(&sf.memory, "memory", "m", "512m", "memory of each run: the ceiling and default (0: runtime default "+units.Size(runtime.DefaultLimits.Memory)+")")
	f.DurationVar(&sf.timeout, "timeout", 30*time.Second, "wall time of each run: the ceiling and default")
	f.IntVar(&sf.pids, "pids", 64, "processes of each run at once: the ceiling and default")
	f.StringVar(&sf.output, "output", "1m", "what a run's answer keeps of stdout and of stderr, each: the ceiling and default")
	f.StringArrayVarP(&sf.volumes, "volume", "v", nil, "mount the host directory HOST at BOX in every run: HOST:BOX[:ro|rw]")
	addNetworkFlags(f, &sf.network, &sf.addHosts, &sf.dns, &sf.networkLog, "none; a run asks for it with \"network\": true or rules of its own within it")
}

// serveRuntime is the runtime of a server: interruptible, so that a run
// past its deadline stops at once, even in a loop without system calls
// (the server outlives its runs). Its compiled code shares the home's
// cache, where the runtime keeps interruptible code apart.
func serveRuntime(ctx context.Context) (*runtime.Runtime, error) {
	return newRuntimeWith(ctx, runtime.NewConfig().WithInterruptible(true))
}

func runServe(cmd *cobra.Command, sf *serveFlags) error {
	ctx := cmd.Context()
	opts, closeMounts, err := sf.options()
	if err != nil {
		return err
	}
	defer closeMounts()
	token, err := sf.token()
	if err != nil {
		return err
	}
	var l net.Listener
	where := ""
	if sf.listen != "" {
		if l, err = serve.ListenTCP(sf.listen, token); err != nil {
			return err
		}
		where = "http://" + l.Addr().String()
	} else {
		sock := sf.socket
		if sock == "" {
			home, err := homeDir()
			if err != nil {
				return err
			}
			sock = filepath.Join(home, "serve.sock")
		}
		if l, err = serve.ListenUnix(sock); err != nil {
			return err
		}
		where = "unix:" + sock
	}
	if token != "" {
		opts = append(opts, serve.WithToken(token))
	}
	store, err := openStore()
	if err != nil {
		l.Close()
		return err
	}
	rt, err := serveRuntime(ctx)
	if err != nil {
		l.Close()
		return err
	}
	defer rt.Close(ctx)
	srv, err := serve.New(ctx, rt, store.Dir(), opts...)
	if err != nil {
		l.Close()
		return err
	}
	defer srv.Close()
	// A signal drains: the requests in progress get their run's time.
	drainGrace.Store(int64(sf.timeout + 10*time.Second))
	stderr := cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "wasmbox serve: listening on %s (%d runs at once, %d queued)\n", where, sf.concurrency, sf.queue)
	err = srv.Serve(ctx, l)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	fmt.Fprintln(stderr, "wasmbox serve: stopped")
	return err
}

// token is the bearer token: --token-file's first line, else
// $WASMBOX_SERVE_TOKEN.
func (sf *serveFlags) token() (string, error) {
	if sf.tokenFile != "" {
		b, err := os.ReadFile(sf.tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %v", err)
		}
		tok, _, _ := strings.Cut(string(b), "\n")
		tok = strings.TrimSpace(tok)
		if tok == "" {
			return "", fmt.Errorf("--token-file %s: empty", sf.tokenFile)
		}
		return tok, nil
	}
	return strings.TrimSpace(os.Getenv(envServeToken)), nil
}

// options are the serve options of the flags, and the mounts to close.
func (sf *serveFlags) options() ([]serve.Option, func(), error) {
	body, err := parseSize(sf.maxBody)
	if err != nil {
		return nil, nil, fmt.Errorf("--max-body: %v", err)
	}
	output, err := parseSize(sf.output)
	if err != nil {
		return nil, nil, fmt.Errorf("--output: %v", err)
	}
	// The same rules as run's --memory and --pids.
	rf := runFlags{memory: sf.memory, pids: sf.pids, pidsSet: true, volumes: sf.volumes}
	limits, err := rf.limits()
	if err != nil {
		return nil, nil, err
	}
	vols, tmps, err := rf.mountSpecs()
	if err != nil {
		return nil, nil, err
	}
	spec, err := networkSpec(sf.network, nil, sf.addHosts, sf.dns, sf.networkLog)
	if err != nil {
		return nil, nil, err
	}
	nw, closeLog, err := spec.Policy()
	if err != nil {
		return nil, nil, err
	}
	mounts, closeVolumes, err := serve.OpenMounts(vols, tmps)
	if err != nil {
		closeLog()
		return nil, nil, err
	}
	closeMounts := func() {
		closeVolumes()
		closeLog()
	}
	opts := []serve.Option{
		serve.WithConcurrency(sf.concurrency),
		serve.WithQueue(sf.queue),
		serve.WithMaxBody(body),
		serve.WithLimits(limits),
		serve.WithTimeout(sf.timeout),
		serve.WithOutput(output),
		serve.WithSessions(sf.sessionTTL, sf.maxSessions),
		serve.WithBoxes(sf.boxes...),
		serve.WithMounts(mounts...),
		serve.WithNetwork(nw),
	}
	if sf.mcp != "" {
		opts = append(opts, serve.WithMCP(sf.mcp))
	}
	if sf.idleExit > 0 {
		opts = append(opts, serve.WithIdleExit(sf.idleExit))
	}
	return opts, closeMounts, nil
}
