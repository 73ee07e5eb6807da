package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// Config configures a Runtime. It is immutable: each WithX returns a copy.
type Config struct {
	cacheDir string
}

// NewConfig returns the default configuration: no compilation cache on
// disk (modules are compiled once per Runtime).
func NewConfig() Config { return Config{} }

// WithCompilationCacheDir keeps compiled modules in dir, keyed by the
// module's digest and the wazero version, so a later process skips
// compiling. Default: none.
func (c Config) WithCompilationCacheDir(dir string) Config {
	c.cacheDir = dir
	return c
}

// Runtime runs programs of boxes. Compiled modules are kept for its life
// and shared by every run, so running the same program again only
// instantiates it. It is safe for concurrent use.
type Runtime struct {
	rt       wazero.Runtime
	cache    wazero.CompilationCache
	cacheDir string

	mu       sync.Mutex
	compiled map[[32]byte]wazero.CompiledModule
}

// New starts a Runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	rc := wazero.NewRuntimeConfig()
	var cache wazero.CompilationCache
	if cfg.cacheDir != "" {
		var err error
		if cache, err = wazero.NewCompilationCacheWithDir(cfg.cacheDir); err != nil {
			return nil, fmt.Errorf("opening the compilation cache %s: %w", cfg.cacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	r := &Runtime{rt: wazero.NewRuntimeWithConfig(ctx, rc), cache: cache, cacheDir: cfg.cacheDir, compiled: map[[32]byte]wazero.CompiledModule{}}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		r.rt.Close(ctx)
		return nil, fmt.Errorf("instantiating WASI: %w", err)
	}
	if err := instantiateProcModule(ctx, r.rt); err != nil {
		r.rt.Close(ctx)
		return nil, fmt.Errorf("instantiating the process module: %w", err)
	}
	return r, nil
}

// Close releases the runtime and every compiled module.
func (r *Runtime) Close(ctx context.Context) error {
	err := r.rt.Close(ctx)
	if r.cache != nil {
		r.cache.Close(ctx)
	}
	return err
}

// Cmd is one command to run in a box, like os/exec's Cmd.
type Cmd struct {
	// Args is the argv; Args[0] is looked up through PATH of Env inside
	// the box unless it holds a slash.
	Args []string
	// Env holds KEY=VALUE pairs; nothing of the host's environment is
	// added. PATH defaults to DefaultPath for the lookup of Args[0].
	Env []string
	// Dir is the working directory in the box; default "/".
	Dir    string
	Stdin  io.Reader // nil: empty
	Stdout io.Writer // nil: discarded
	Stderr io.Writer // nil: discarded
}

// ExitError reports a box command that did not exit 0: its own exit
// status, or a status wasmbox chose (126 cannot execute, 127 not found)
// with the reason.
type ExitError struct {
	code   int
	reason string
}

// ExitCode is the status, 0-255.
func (e *ExitError) ExitCode() int { return e.code }

// Reason says why wasmbox ended the command, or is empty when the status
// is the command's own.
func (e *ExitError) Reason() string { return e.reason }

func (e *ExitError) Error() string {
	if e.reason != "" {
		return e.reason
	}
	return fmt.Sprintf("exit status %d", e.code)
}

// Run runs cmd in fsys and waits for it. It returns nil when the command
// exits 0, an *ExitError for any other status, or another error when
// wasmbox itself failed.
func (r *Runtime) Run(ctx context.Context, fsys *Overlay, cmd Cmd) error {
	if len(cmd.Args) == 0 {
		return errors.New("runtime: no command given")
	}
	dir := cmd.Dir
	if dir == "" {
		dir = "/"
	}
	dir = path.Clean(dir)
	p := &process{
		rt:     r,
		fs:     fsys,
		env:    withEnv(cmd.Env, "PWD", dir),
		dir:    dir,
		stdin:  cmd.Stdin,
		stdout: cmd.Stdout,
		stderr: cmd.Stderr,
	}
	if p.stdin == nil {
		p.stdin = eofReader{}
	}
	p.stdout = shareable(p.stdout)
	p.stderr = shareable(p.stderr)
	exe, err := fsys.lookPath(cmd.Args[0], cmd.Env, dir)
	if err != nil {
		return err
	}
	prog, err := fsys.load(exe, cmd.Args, r.isCompiled)
	if err != nil {
		return err
	}
	code, err := p.run(ctx, prog)
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{code: code}
	}
	return nil
}

// Precompile compiles the modules at paths of fsys (following #! lines), so
// that the first run does not pay for them when a compilation cache is set.
// Distinct modules compile in parallel. A module this Runtime compiled
// already, or that the cache directory records as compiled by this wazero,
// is not compiled again: that costs reading and hashing the module, not
// decoding and validating it. Errors are those Run would report.
func (r *Runtime) Precompile(ctx context.Context, fsys *Overlay, paths ...string) error {
	var errs []error
	progs := map[[32]byte]*program{}
	for _, p := range paths {
		prog, err := fsys.load(p, []string{p}, r.isCompiled)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prog.code != nil && !r.onDisk(prog.key) {
			progs[prog.key] = prog
		}
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for _, prog := range progs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.compile(ctx, prog); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// LookPath resolves a command name as Run does for Args[0]: through PATH
// of env (DefaultPath if unset) inside the box, relative to dir.
func (o *Overlay) LookPath(name string, env []string, dir string) (string, error) {
	return o.lookPath(name, env, dir)
}

func (r *Runtime) isCompiled(key [32]byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.compiled[key]
	return ok
}

func (r *Runtime) compile(ctx context.Context, prog *program) (wazero.CompiledModule, error) {
	r.mu.Lock()
	cm, ok := r.compiled[prog.key]
	r.mu.Unlock()
	if ok {
		return cm, nil
	}
	if prog.code == nil {
		return nil, fmt.Errorf("%s: module bytes missing", prog.path)
	}
	cm, err := r.rt.CompileModule(ctx, prog.code)
	if err != nil {
		return nil, &ExitError{code: 126, reason: fmt.Sprintf("%s: cannot execute: not a valid Wasm module: %v", prog.path, err)}
	}
	r.markOnDisk(prog.key)
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.compiled[prog.key]; ok {
		cm.Close(ctx)
		return prev, nil
	}
	r.compiled[prog.key] = cm
	return cm, nil
}

// process is one running instance: the command of a run, or a child it
// spawned through the process module.
type process struct {
	rt     *Runtime
	fs     *Overlay
	args   []string
	env    []string
	dir    string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	mu       sync.Mutex
	children map[uint32]*child
	nextPid  uint32
	lastErr  string
}

type procKey struct{}

// exitTrapped is the status of a program that trapped: 128 + SIGABRT.
const exitTrapped = 134

// run instantiates prog and returns its exit status.
func (p *process) run(ctx context.Context, prog *program) (int, error) {
	cm, err := p.rt.compile(ctx, prog)
	if err != nil {
		return 0, err
	}
	fsCfg := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(p.fs, "/")
	mc := wazero.NewModuleConfig().
		WithName("").
		WithArgs(prog.args...).
		WithStdin(p.stdin).
		WithStdout(orDiscard(p.stdout)).
		WithStderr(orDiscard(p.stderr)).
		WithFSConfig(fsCfg).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, kv := range p.env {
		k, v, _ := cutEnv(kv)
		mc = mc.WithEnv(k, v)
	}
	ctx = context.WithValue(ctx, procKey{}, p)
	mod, err := p.rt.rt.InstantiateModule(ctx, cm, mc)
	if mod != nil {
		mod.Close(ctx)
	}
	p.killChildren()
	if err != nil {
		var exit *wazerosys.ExitError
		if errors.As(err, &exit) {
			return int(exit.ExitCode() & 0xff), nil
		}
		if strings.Contains(err.Error(), "wasm error:") {
			// The program started and trapped (unreachable, out of
			// bounds...): it crashed, as a native one killed by SIGABRT.
			return 0, &ExitError{code: exitTrapped, reason: fmt.Sprintf("%s: crashed: %v", prog.path, err)}
		}
		// It could not start: unknown imports, a bad start function.
		return 0, &ExitError{code: 126, reason: fmt.Sprintf("%s: cannot execute: %v", prog.path, err)}
	}
	return 0, nil
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// withEnv returns env with key set to value (replacing earlier settings).
func withEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := cutEnv(kv); k != key {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// shareable makes a writer safe to share between instances; an *os.File
// already is (and wazero writes to it directly).
func shareable(w io.Writer) io.Writer {
	switch w.(type) {
	case nil:
		return io.Discard
	case *os.File, *lockedWriter:
		return w
	}
	if w == io.Discard {
		return w
	}
	return &lockedWriter{w: w}
}
