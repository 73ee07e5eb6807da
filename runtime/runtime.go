package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/internal/envlist"
	"github.com/wasmbox/wasmbox/internal/passwd"
	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/internal/wasmsnap/cowmem"
)

// Config configures a Runtime. It is immutable: each WithX returns a copy.
type Config struct {
	cacheDir      string
	interruptible bool
	cacheLimit    int64
	noSnapshots   bool
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
// it makes one, and Run, which returns only when every process of the run
// has ended, waits for it; the CLI, which ends its own process, needs no
// more. A server that must stop runs at once wants this on.
func (c Config) WithInterruptible(on bool) Config {
	c.interruptible = on
	return c
}

// WithSnapshots says whether runs start from the snapshots of their
// programs (SnapshotBox) when they can. Default: on. A process that runs
// one program and exits may want it off: loading a snapshot's memory
// (about 25 ms for the python base) costs about what it saves.
func (c Config) WithSnapshots(on bool) Config {
	c.noSnapshots = !on
	return c
}

// Runtime runs programs of boxes. Compiled modules are kept for its life
// and shared by every run, so running the same program again only
// instantiates it. It is safe for concurrent use.
type Runtime struct {
	rt         wazero.Runtime
	cache      wazero.CompilationCache
	cacheDir   string
	cacheLimit int64

	mu       sync.Mutex
	compiled map[[32]byte]wazero.CompiledModule
	// minMemory: the memory each compiled module needs to start, in bytes.
	minMemory map[[32]byte]int64
	// inflight: modules being compiled, closed when done.
	inflight map[[32]byte]chan struct{}

	// scratch compiles and runs the modules a box wrote itself: the
	// same configuration without the compilation cache, so that they
	// never reach the host's disk; made at the first such module.
	scratchCfg  wazero.RuntimeConfig
	scratchOnce sync.Once
	scratch     wazero.Runtime
	scratchErr  error

	// snapDir keeps snapshots ("" none: in memory only); snapMu makes
	// one SnapshotBox program at a time; snaps (under mu) are those
	// read or taken, nil for a program known to have none.
	snapDir string
	snapMu  sync.Mutex
	snaps   map[snapKey]*programSnaps
	// snapModules are the modules with snapshots in snaps.
	snapModules map[[32]byte]bool
	noSnapshots bool
}

// newWazeroRuntime starts a wazero runtime with the host modules every
// program of a box imports.
func newWazeroRuntime(ctx context.Context, rc wazero.RuntimeConfig) (wazero.Runtime, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if err := instantiateWASI(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiating WASI: %w", err)
	}
	if err := instantiateNetModule(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiating the network module: %w", err)
	}
	if err := instantiateProcModule(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiating the process module: %w", err)
	}
	return rt, nil
}

// scratchRuntime returns the runtime for box-written modules.
func (r *Runtime) scratchRuntime(ctx context.Context) (wazero.Runtime, error) {
	r.scratchOnce.Do(func() {
		r.scratch, r.scratchErr = newWazeroRuntime(context.WithoutCancel(ctx), r.scratchCfg)
	})
	return r.scratch, r.scratchErr
}

// New starts a Runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	rc := wazero.NewRuntimeConfig()
	var cache wazero.CompilationCache
	if cfg.interruptible {
		rc = rc.WithCloseOnContextDone(true)
	}
	scratchCfg := rc
	dir := cfg.cacheDir
	if dir != "" {
		if cfg.interruptible {
			// wazero's file cache key does not cover this option: code
			// compiled without the checks must not be reused with it,
			// nor the record of what is compiled.
			dir = filepath.Join(dir, interruptibleDir)
		}
		var err error
		if cache, err = wazero.NewCompilationCacheWithDir(wazeroRoot(dir)); err != nil {
			return nil, fmt.Errorf("opening the compilation cache %s: %w", cfg.cacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt, err := newWazeroRuntime(ctx, rc)
	if err != nil {
		return nil, err
	}
	r := &Runtime{rt: rt, cache: cache, cacheDir: dir, cacheLimit: cfg.cacheLimit, compiled: map[[32]byte]wazero.CompiledModule{}, minMemory: map[[32]byte]int64{}, inflight: map[[32]byte]chan struct{}{}, scratchCfg: scratchCfg,
		snapDir: snapDirOf(cfg.cacheDir), snaps: map[snapKey]*programSnaps{}, snapModules: map[[32]byte]bool{}, noSnapshots: cfg.noSnapshots}
	return r, nil
}

// Close releases the runtime and every compiled module.
func (r *Runtime) Close(ctx context.Context) error {
	err := r.rt.Close(ctx)
	if r.scratch != nil {
		r.scratch.Close(ctx)
	}
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
	// added. PATH defaults to DefaultPath for the lookup of Args[0];
	// HOME defaults to the home of User in the box's /etc/passwd
	// ("/root" for root, "/" for a user it does not list), as runc does.
	Env []string
	// User is who the command runs as, as Docker's USER: a name or a
	// uid, with an optional ":group" or ":gid", looked up in the box's
	// /etc/passwd and /etc/group; a name must be listed. Default: root.
	// Files the run creates belong to it, and programs learn their ids
	// through the process ABI (id, whoami).
	User string
	// Hostname is the box's host name, which the run reads in
	// /etc/hostname (served over the box's own file, as Docker does,
	// never written into the overlay). Default: DefaultHostname.
	Hostname string
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
	// Network is what the run may reach of the network, and the ports it
	// publishes; nil: no network (sockets between its own processes
	// only). See Network.
	Network *Network
	// Stats, when set, is filled in when Run returns.
	Stats *Stats

	// take makes the run take a snapshot (SnapshotBox).
	take *snapTake
}

// Stats is what a run used.
type Stats struct {
	// PeakMemory is the most memory the run held at once, in bytes: the
	// Wasm memories of its processes and the file data it wrote to its
	// writable layer and in-memory mounts (what Limits.Memory bounds,
	// without the estimate for compiling modules the box wrote).
	PeakMemory int64
	// Snapshots counts the run's processes that started from a
	// snapshot of their program (SnapshotBox) rather than from _start.
	Snapshots int
}

// Run runs cmd in fsys and waits for it. It returns nil when the command
// exits 0, an *ExitError for any other status, or another error when
// wasmbox itself failed.
func (r *Runtime) Run(ctx context.Context, fsys *Overlay, cmd Cmd) error {
	return r.run(ctx, fsys.fs, cmd)
}

func (r *Runtime) run(ctx context.Context, fsys *overlay, cmd Cmd) error {
	if len(cmd.Args) == 0 {
		return errors.New("runtime: no command given")
	}
	dir := cmd.Dir
	if dir == "" {
		dir = "/"
	}
	dir = path.Clean(dir)
	if err := cmd.Limits.check(); err != nil {
		return err
	}
	cmd.Limits = cmd.Limits.Effective()
	ns, err := newNamespace(fsys, cmd.Mounts)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	ns.readOnly = cmd.ReadOnly
	hostname := cmd.Hostname
	if hostname == "" {
		hostname = DefaultHostname
	}
	ns.files = map[string]experimentalsys.FS{etcHostname: hostnameFile(hostname)}
	user, err := passwd.Lookup(fsys.ReadFile, cmd.User)
	if err != nil {
		return fmt.Errorf("runtime: user %s: %w", cmd.User, err)
	}
	env := cmd.Env
	if _, ok := envlist.Lookup(env, "HOME"); !ok {
		env = withEnv(env, "HOME", user.Home)
	}
	if cmd.User != "" {
		uid, gid := fsys.owner()
		fsys.SetOwner(user.UID, user.GID)
		defer fsys.SetOwner(uid, gid)
	}
	defer ns.makeMountPoints()()
	rs := &runState{limits: cmd.Limits}
	if cmd.Network != nil {
		if err := cmd.Network.check(); err != nil {
			return err
		}
	}
	rs.net = newNetRun(cmd.Network, rs)
	if err := rs.net.publish(); err != nil {
		return err
	}
	defer rs.net.close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs.cancel = cancel
	stop := context.AfterFunc(ctx, func() { rs.endBy(ctx) })
	defer stop()
	p := &process{
		rt:     r,
		ns:     ns,
		state:  rs,
		env:    withEnv(env, "PWD", dir),
		dir:    dir,
		uid:    user.UID,
		gid:    user.GID,
		stdin:  cmd.Stdin,
		stdout: cmd.Stdout,
		stderr: cmd.Stderr,
		take:   cmd.take,
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
	exe, err := ns.lookPath(cmd.Args[0], env, dir)
	if err != nil {
		return err
	}
	prog, err := ns.load(exe, cmd.Args, r.isKnown)
	if err != nil {
		return err
	}
	// What the box writes to its writable layer and to in-memory mounts
	// lives in the runner's memory: it counts against the same limit,
	// and in the run's peak.
	lim := cmd.Limits.Memory
	charge := func(delta int64) bool {
		if rs.mem.Add(delta) > lim && lim > 0 && delta > 0 {
			rs.mem.Add(-delta)
			rs.end(CauseMemoryLimit, fmt.Sprintf("memory limit of %s reached (files the box writes count too)", units.In(lim, units.MiB)))
			return false
		}
		rs.hold(delta)
		return true
	}
	for _, ov := range append([]*overlay{fsys}, memoryVolumes(cmd.Mounts)...) {
		ov.setCharge(charge)
		defer ov.setCharge(nil)
	}
	if cmd.Stats != nil {
		defer func() {
			cmd.Stats.PeakMemory = rs.peak.Load()
			cmd.Stats.Snapshots = int(rs.resumed.Load())
		}()
	}
	rs.procs.Add(1)
	code, err := p.run(runCtx, prog)
	// The run is over when its last process is: children left behind
	// were killed (they end at their next system call, or at once when
	// the Runtime is interruptible) and are waited for.
	rs.live.Wait()
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
func memoryVolumes(mounts []Mount) []*overlay {
	var out []*overlay
	for _, m := range mounts {
		if ov, ok := m.Volume.(*Overlay); ok {
			out = append(out, ov.fs)
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
	return r.precompile(ctx, fsys.fs, false, paths)
}

// precompile compiles the modules at paths that this Runtime does not
// hold; with inMemory, also those the cache directory holds (loading
// them into memory), else only those it does not.
func (r *Runtime) precompile(ctx context.Context, fsys *overlay, inMemory bool, paths []string) error {
	var errs []error
	progs := map[[32]byte]*program{}
	for _, p := range paths {
		prog, err := (&namespace{root: fsys}).load(p, []string{p}, r.isCompiled)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prog.code != nil && (inMemory || !r.onDisk(prog.key)) {
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
func (o *overlay) LookPath(name string, env []string, dir string) (string, error) {
	return (&namespace{root: o}).lookPath(name, env, dir)
}

// isKnown reports whether a run of the module key may not need its bytes:
// it is compiled, or has snapshots (whose module is compiled apart).
func (r *Runtime) isKnown(key [32]byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.compiled[key]
	return ok || r.snapModules[key]
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
	code, err := prog.bytes()
	if err != nil {
		return nil, err
	}
	var before map[string]bool
	if !r.onDisk(prog.key) {
		before = r.cacheFiles()
	}
	// The structure first: wazero does not bound a module's counts.
	pages, err := memoryMinimum(code)
	if err != nil {
		return nil, notExecutable("%s: cannot execute: not a valid Wasm module: %v", prog.path, err)
	}
	cm, err := r.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, notExecutable("%s: cannot execute: not a valid Wasm module: %v", prog.path, err)
	}
	r.markOnDisk(prog.key, before)
	if before != nil {
		r.boundCache()
	}
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
	tasks  atomic.Int64            // in-process tasks counted as processes (proc ABI task)
	net    atomic.Pointer[netProc] // its sockets, once it makes one
	args   []string
	env    []string
	dir    string
	// uid and gid are who the process runs as (Cmd.User).
	uid, gid uint32
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	// take: the process takes a snapshot instead of running (the first
	// process of a run of SnapshotBox).
	take *snapTake

	mu       sync.Mutex
	children map[uint32]*child
	nextPid  uint32
	lastErr  string
}

type procKey struct{}

// run instantiates prog and returns its exit status.
func (p *process) run(ctx context.Context, prog *program) (int, error) {
	rs := p.state
	defer func() {
		// p, counted by its starter (Run, spawn), and the tasks it left.
		rs.procs.Add(-1 - p.tasks.Swap(0))
	}()
	ctx = context.WithValue(ctx, procKey{}, p)
	if p.take != nil {
		ctx, p.cancel = context.WithCancel(ctx)
		defer p.cancel()
		return p.runTake(ctx, prog)
	}
	if s, ps := p.snapshotFor(prog); s != nil {
		rctx, cancel := context.WithCancel(ctx)
		p.cancel = cancel
		code, err, ok := p.resume(rctx, s, ps, prog)
		cancel()
		if ok {
			rs.resumed.Add(1)
			return p.finish(code, err)
		}
		if rs.ended.Load() || p.killed.Load() {
			return ExitKilled, nil
		}
	}
	rt, cm, need, release, err := p.compile(ctx, prog)
	if err != nil {
		return 0, err
	}
	defer release()
	if lim := rs.limits.Memory; lim > 0 {
		if used := rs.mem.Load(); need > lim-used {
			rs.end(CauseMemoryLimit, fmt.Sprintf("memory limit of %s reached: %s needs %s to start", units.In(lim, units.MiB), prog.path, units.In(need, units.MiB)))
			return 0, rs.killedError()
		}
		ctx = experimental.WithMemoryAllocator(ctx, allocator{rs: rs, inner: anonMemory()})
	}
	ctx, p.cancel = context.WithCancel(ctx)
	defer p.cancel()
	return p.finish(p.start(ctx, rt, cm, prog))
}

// finish ends p once its program returned code and err: the children it
// left are killed, and a process its run or a kill ended is ExitKilled.
func (p *process) finish(code int, err error) (int, error) {
	p.killChildren()
	if np := p.net.Load(); np != nil {
		np.closeAll()
	}
	if p.state.ended.Load() || p.killed.Load() {
		return ExitKilled, nil
	}
	return code, err
}

// compileFactor is what compiling a module costs the host, in bytes per
// byte of module, as wazero's compiler was measured on the python base
// and busybox (peaks of 8x to 12x); a box-written module is charged this
// against Limits.Memory while it compiles and runs.
const compileFactor = 16

// compile returns the compiled module for prog, the runtime it belongs
// to, the memory it needs to start, and what to do when p is done with
// it. The box's own modules are compiled once for the Runtime, through
// its cache; a module the box wrote itself is compiled for this process
// only, on the scratch runtime, never cached on disk, and its
// compilation counts against the run's memory limit.
func (p *process) compile(ctx context.Context, prog *program) (wazero.Runtime, wazero.CompiledModule, int64, func(), error) {
	r, rs := p.rt, p.state
	if !prog.forRunOnly() {
		cm, err := r.compile(ctx, prog)
		if err != nil {
			return nil, nil, 0, nil, err
		}
		r.mu.Lock()
		need := r.minMemory[prog.key]
		r.mu.Unlock()
		return r.rt, cm, need, func() {}, nil
	}
	pages, err := memoryMinimum(prog.code)
	if err != nil {
		return nil, nil, 0, nil, notExecutable("%s: cannot execute: not a valid Wasm module: %v", prog.path, err)
	}
	cost := int64(len(prog.code)) * compileFactor
	if lim := rs.limits.Memory; lim > 0 && rs.mem.Add(cost) > lim {
		rs.mem.Add(-cost)
		rs.end(CauseMemoryLimit, fmt.Sprintf("memory limit of %s reached: compiling %s, which the box wrote, takes about %s", units.In(lim, units.MiB), prog.path, units.In(cost, units.MiB)))
		return nil, nil, 0, nil, rs.killedError()
	}
	uncharge := func() {
		if rs.limits.Memory > 0 {
			rs.mem.Add(-cost)
		}
	}
	rt, err := r.scratchRuntime(ctx)
	if err != nil {
		uncharge()
		return nil, nil, 0, nil, err
	}
	cm, err := rt.CompileModule(ctx, prog.code)
	if err != nil {
		uncharge()
		return nil, nil, 0, nil, notExecutable("%s: cannot execute: not a valid Wasm module: %v", prog.path, err)
	}
	release := func() {
		cm.Close(context.WithoutCancel(ctx))
		uncharge()
	}
	return rt, cm, int64(min(pages, 1<<48)) * 65536, release, nil
}

// moduleConfig is the module configuration of p running prog: its argv,
// env, stdio and file system (the box's root and the mounts above it).
func (p *process) moduleConfig(prog *program) wazero.ModuleConfig {
	// One preopen: the namespace routes every path to its mount.
	fsCfg := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(&guestView{nsFS{ns: p.ns}, p.state}, "/")
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
func (p *process) start(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule, prog *program) (int, error) {
	mod, err := rt.InstantiateModule(ctx, cm, p.moduleConfig(prog))
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

// anonMemory allocates linear memories as reservations of the host's
// address space (cowmem over an empty image: pages the kernel zeroes when
// first touched, growth without copying) where mmap exists; nil elsewhere
// (Go slices). A Go slice is zeroed in full when made and copied whole when
// it grows: a Go program's start (busybox) grows its memory at once.
func anonMemory() experimental.MemoryAllocator {
	anonOnce.Do(func() {
		empty := sha256.Sum256(nil)
		if im, err := cowmem.Load(bytes.NewReader(nil), 0, empty); err == nil {
			anonAlloc = im.Allocator()
		}
	})
	return anonAlloc
}

var (
	anonOnce  sync.Once
	anonAlloc experimental.MemoryAllocator
)
