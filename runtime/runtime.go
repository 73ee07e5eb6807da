package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/internal/units"
)

// Config configures a Runtime. It is immutable: each WithX returns a copy.
type Config struct {
	cacheDir      string
	interruptible bool
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

// WithInterruptible makes running code stop as soon as its run ends (the
// context is done, a limit is reached, a process is killed), even inside a
// loop that makes no system call. It costs: wazero then checks for the end
// in every loop and function, which made tight loops about 3.6x slower.
// Without it (the default), a run that ends stops each process at its next
// system call (output, input, sleep, file access, process calls), which
// costs nothing, but a process spinning without system calls runs on until
// it makes one; the CLI, which ends its own process, needs no more.
func (c Config) WithInterruptible(on bool) Config {
	c.interruptible = on
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
	// minMemory: the memory each compiled module needs to start, in bytes.
	minMemory map[[32]byte]int64
	// inflight: modules being compiled, closed when done.
	inflight map[[32]byte]chan struct{}
}

// New starts a Runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	rc := wazero.NewRuntimeConfig()
	var cache wazero.CompilationCache
	if cfg.interruptible {
		rc = rc.WithCloseOnContextDone(true)
	}
	if cfg.cacheDir != "" {
		dir := cfg.cacheDir
		if cfg.interruptible {
			// wazero's file cache key does not cover this option: code
			// compiled without the checks must not be reused with it.
			dir = path.Join(dir, "interruptible")
		}
		var err error
		if cache, err = wazero.NewCompilationCacheWithDir(dir); err != nil {
			return nil, fmt.Errorf("opening the compilation cache %s: %w", cfg.cacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	r := &Runtime{rt: wazero.NewRuntimeWithConfig(ctx, rc), cache: cache, cacheDir: cfg.cacheDir, compiled: map[[32]byte]wazero.CompiledModule{}, minMemory: map[[32]byte]int64{}, inflight: map[[32]byte]chan struct{}{}}
	if err := instantiateWASI(ctx, r.rt); err != nil {
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
	// ReadOnly runs without a writable layer: every write to the box's
	// own file system fails (mounts keep their own mode).
	ReadOnly bool
	// Limits bound the run and the processes it starts.
	Limits Limits
	// Mounts show volumes (host directories, in-memory directories) at
	// paths of the box, above its file system, for this run and the
	// processes it starts. A missing target is created as an empty
	// directory of the overlay for the run and removed after it (when
	// still empty), so a build's layer keeps no trace of it.
	Mounts []Mount
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
	if cmd.Limits.Memory < 0 || cmd.Limits.Processes < 0 || cmd.Limits.Output < 0 {
		return errors.New("runtime: limits must not be negative")
	}
	ns, err := newNamespace(fsys, cmd.Mounts)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	ns.readOnly = cmd.ReadOnly
	defer ns.makeMountPoints()()
	rs := &runState{limits: cmd.Limits}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs.cancel = cancel
	stop := context.AfterFunc(ctx, func() { rs.endBy(ctx) })
	defer stop()
	p := &process{
		rt:     r,
		ns:     ns,
		state:  rs,
		env:    withEnv(cmd.Env, "PWD", dir),
		dir:    dir,
		stdin:  cmd.Stdin,
		stdout: cmd.Stdout,
		stderr: cmd.Stderr,
	}
	if p.stdin == nil {
		p.stdin = eofReader{}
	} else {
		// A read of the box's stdin that never returns (nobody writes)
		// must not keep an ended run: it then reads end of file.
		p.stdin = &endableReader{r: p.stdin, done: runCtx.Done()}
	}
	p.stdout = rs.limitOutput(shareable(p.stdout))
	p.stderr = rs.limitOutput(shareable(p.stderr))
	exe, err := ns.lookPath(cmd.Args[0], cmd.Env, dir)
	if err != nil {
		return err
	}
	prog, err := ns.load(exe, cmd.Args, r.isCompiled)
	if err != nil {
		return err
	}
	if lim := cmd.Limits.Memory; lim > 0 {
		// What the box writes to its writable layer and to in-memory
		// mounts lives in the runner's memory: it counts against the
		// same limit.
		charge := func(delta int64) bool {
			if rs.mem.Add(delta) > lim && delta > 0 {
				rs.mem.Add(-delta)
				rs.end(CauseMemoryLimit, fmt.Sprintf("memory limit of %s reached (files the box writes count too)", units.In(lim, units.MiB)))
				return false
			}
			return true
		}
		for _, ov := range append([]*Overlay{fsys}, memoryVolumes(cmd.Mounts)...) {
			ov.setCharge(charge)
			defer ov.setCharge(nil)
		}
	}
	rs.procs.Add(1)
	code, err := p.run(runCtx, prog)
	if ctx.Err() != nil && !rs.ended.Load() {
		// The context ended the run; its AfterFunc may not have run yet.
		rs.endBy(ctx)
	}
	if rs.ended.Load() {
		return rs.killedError()
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code, Cause: CauseExit}
	}
	return nil
}

// memoryVolumes are the in-memory directories among mounts.
func memoryVolumes(mounts []Mount) []*Overlay {
	var out []*Overlay
	for _, m := range mounts {
		if ov, ok := m.Volume.(*Overlay); ok {
			out = append(out, ov)
		}
	}
	return out
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
		prog, err := (&namespace{root: fsys}).load(p, []string{p}, r.isCompiled)
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
	return (&namespace{root: o}).lookPath(name, env, dir)
}

func (r *Runtime) isCompiled(key [32]byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.compiled[key]
	return ok
}

func (r *Runtime) compile(ctx context.Context, prog *program) (wazero.CompiledModule, error) {
	// One compilation per module at a time: wazero keys compiled code by
	// the module's digest, so compiling the same module twice and closing
	// the spare copy would close the code of the kept one too (instances
	// then crashed inside wazero).
	for {
		r.mu.Lock()
		if cm, ok := r.compiled[prog.key]; ok {
			r.mu.Unlock()
			return cm, nil
		}
		wait, busy := r.inflight[prog.key]
		if !busy {
			break // r.mu stays locked
		}
		r.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	done := make(chan struct{})
	r.inflight[prog.key] = done
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.inflight, prog.key)
		close(done)
		r.mu.Unlock()
	}()
	if prog.code == nil {
		return nil, fmt.Errorf("%s: module bytes missing", prog.path)
	}
	var before map[string]bool
	if !r.onDisk(prog.key) {
		before = r.cacheFiles()
	}
	cm, err := r.rt.CompileModule(ctx, prog.code)
	if err != nil {
		return nil, notExecutable("%s: cannot execute: not a valid Wasm module: %v", prog.path, err)
	}
	pages, err := memoryMinimum(prog.code)
	if err != nil {
		// wazero compiled it: the reader missed something. Refuse rather
		// than start a module whose size is unknown.
		cm.Close(ctx)
		return nil, notExecutable("%s: cannot execute: reading its memory section: %v", prog.path, err)
	}
	r.markOnDisk(prog.key, before)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.minMemory[prog.key] = int64(min(pages, 1<<48)) * 65536
	r.compiled[prog.key] = cm
	return cm, nil
}

// process is one running instance: the command of a run, or a child it
// spawned through the process module.
type process struct {
	rt     *Runtime
	ns     *namespace
	state  *runState
	killed atomic.Bool
	cancel context.CancelFunc
	tasks  atomic.Int64 // in-process tasks counted as processes (proc ABI task)
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

// run instantiates prog and returns its exit status.
func (p *process) run(ctx context.Context, prog *program) (int, error) {
	cm, err := p.rt.compile(ctx, prog)
	if err != nil {
		return 0, err
	}
	rs := p.state
	defer func() {
		// p, counted by its starter (Run, spawn), and the tasks it left.
		rs.procs.Add(-1 - p.tasks.Swap(0))
	}()
	if lim := rs.limits.Memory; lim > 0 {
		p.rt.mu.Lock()
		need := p.rt.minMemory[prog.key]
		p.rt.mu.Unlock()
		if used := rs.mem.Load(); need > lim-used {
			rs.end(CauseMemoryLimit, fmt.Sprintf("memory limit of %s reached: %s needs %s to start", units.In(lim, units.MiB), prog.path, units.In(need, units.MiB)))
			return 0, rs.killedError()
		}
		ctx = experimental.WithMemoryAllocator(ctx, allocator{rs})
	}
	ctx, p.cancel = context.WithCancel(ctx)
	defer p.cancel()
	ctx = context.WithValue(ctx, procKey{}, p)
	code, err := p.start(ctx, cm, prog)
	p.killChildren()
	if rs.ended.Load() || p.killed.Load() {
		return ExitKilled, nil
	}
	return code, err
}

// moduleConfig is the module configuration of p running prog: its argv,
// env, stdio and file system (the box's root and the mounts above it).
func (p *process) moduleConfig(prog *program) wazero.ModuleConfig {
	// One preopen: the namespace routes every path to its mount.
	fsCfg := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(guestView{nsFS{ns: p.ns}}, "/")
	mc := wazero.NewModuleConfig().
		WithName("").
		// _start is called by start, which tells a failure to start
		// (126) from a crash of the running program (a trap, 134).
		WithStartFunctions().
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
	return mc
}

// start instantiates the compiled module and calls its _start: a module
// that cannot be instantiated (unknown imports, a failing start section)
// cannot execute (126); an error of _start other than the program's exit
// (wazero's *sys.ExitError) is a trap: the program crashed (134).
func (p *process) start(ctx context.Context, cm wazero.CompiledModule, prog *program) (int, error) {
	mod, err := p.rt.rt.InstantiateModule(ctx, cm, p.moduleConfig(prog))
	if err != nil {
		if code, ok := exitCode(err); ok {
			return code, nil
		}
		return 0, notExecutable("%s: cannot execute: %v", prog.path, err)
	}
	defer mod.Close(ctx)
	fn := mod.ExportedFunction("_start")
	if fn == nil {
		return 0, nil // as wazero's own start: a module without _start does nothing
	}
	if _, err := fn.Call(ctx); err != nil {
		if code, ok := exitCode(err); ok {
			return code, nil
		}
		return 0, &ExitError{Code: ExitTrapped, Cause: CauseTrap, Reason: fmt.Sprintf("%s: crashed: %v", prog.path, err)}
	}
	return 0, nil
}

// exitCode is the status of a program that exited (proc_exit, or ended by
// the runner through wazero's *sys.ExitError).
func exitCode(err error) (int, bool) {
	var exit *wazerosys.ExitError
	if errors.As(err, &exit) {
		return int(exit.ExitCode() & 0xff), true
	}
	return 0, false
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
