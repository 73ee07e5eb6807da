package main

// End-to-end tests: busybox.wasm built by shims/build, run on wazero with a
// small, test-only wasmbox_proc host module (the real one is the runtime
// package's). The box is a temp dir mounted with WithDirMount: fine for a
// trusted test tree, never for a real box.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/envlist"
	"github.com/wasmbox/wasmbox/shims/abi"
	"github.com/wasmbox/wasmbox/shims/build"
	"github.com/wasmbox/wasmbox/shims/busybox/applets"
)

// WASI errno values of the ABI, as the host functions return them.
const (
	eAGAIN  = uint32(abi.EAGAIN)
	eBADF   = uint32(abi.EBADF)
	eINVAL  = uint32(abi.EINVAL)
	eNOENT  = uint32(abi.ENOENT)
	eNOEXEC = uint32(abi.ENOEXEC)
)

// pipeCap is small so that the guest's pumps meet EAGAIN often.
const pipeCap = 4096

func newPipe() *abi.Pipe { return abi.NewPipe(pipeCap) }

// lockedWriter serializes writes of instances sharing one stream.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// instance is the host's view of one running module.
type instance struct {
	box            *box
	stdin          io.Reader
	stdout, stderr io.Writer

	mu       sync.Mutex
	children map[uint32]*child
	lastErr  string
}

type child struct {
	in, out, errp *abi.Pipe // nil unless a pipe to the parent
	cancel        context.CancelFunc
	done          chan struct{}
	status        uint32
}

type instanceKey struct{}

// box runs the module over a host directory.
type box struct {
	t        testing.TB
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	root     string
	nextPid  atomic.Uint32
	spawns   atomic.Int32
	requests sync.Map // pid -> spawn request, for the tests
}

type spawnReq = abi.SpawnRequest

// run instantiates the module with argv and env on the given streams and
// returns its exit status.
func (b *box) run(ctx context.Context, inst *instance, argv, env []string) uint32 {
	cfg := wazero.NewModuleConfig().WithName("").WithArgs(argv...).
		WithStdin(inst.stdin).WithStdout(inst.stdout).WithStderr(inst.stderr).
		WithFSConfig(wazero.NewFSConfig().WithDirMount(b.root, "/")).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		cfg = cfg.WithEnv(k, v)
	}
	inst.box = b
	inst.children = map[uint32]*child{}
	mod, err := b.rt.InstantiateModule(context.WithValue(ctx, instanceKey{}, inst), b.compiled, cfg)
	if mod != nil {
		mod.Close(context.Background())
	}
	// A parent that ends kills the children it did not wait for.
	inst.mu.Lock()
	for _, c := range inst.children {
		c.cancel()
	}
	inst.mu.Unlock()
	var ee *sys.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ctx.Err() != nil {
			return 137
		}
		return ee.ExitCode()
	default:
		if ctx.Err() != nil {
			return 137
		}
		fmt.Fprintf(inst.stderr, "instantiating: %v\n", err)
		return 1
	}
}

func (b *box) hostPath(p string) string { return filepath.Join(b.root, filepath.Clean("/"+p)) }

// instantiateHost adds the test's wasmbox_proc to rt. Its functions find
// the box through the calling instance.
func instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	inst := func(ctx context.Context) *instance { return ctx.Value(instanceKey{}).(*instance) }
	mem := func(m api.Module, ptr, n uint32) []byte {
		v, ok := m.Memory().Read(ptr, n)
		if !ok {
			return nil
		}
		return v
	}
	getChild := func(in *instance, pid uint32) *child {
		in.mu.Lock()
		defer in.mu.Unlock()
		return in.children[pid]
	}
	_, err := rt.NewHostModuleBuilder(abi.ModuleName).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, reqPtr, reqLen, pidOut uint32) uint32 {
		in := inst(ctx)
		b := in.box
		var req spawnReq
		if err := json.Unmarshal(mem(m, reqPtr, reqLen), &req); err != nil || !filepath.IsAbs(req.Path) {
			return eINVAL
		}
		fail := func(e uint32, msg string) uint32 {
			in.mu.Lock()
			in.lastErr = msg
			in.mu.Unlock()
			return e
		}
		head := make([]byte, 4)
		f, err := os.Open(b.hostPath(req.Path))
		if err != nil {
			return fail(eNOENT, req.Path+": not found")
		}
		io.ReadFull(f, head)
		f.Close()
		if string(head) != "\x00asm" {
			return fail(eNOEXEC, req.Path+": not a Wasm module (native program?)")
		}
		b.spawns.Add(1)
		pid := b.nextPid.Add(1)
		b.requests.Store(pid, req)
		c := &child{done: make(chan struct{})}
		ci := &instance{}
		streams := [3]any{in.stdin, in.stdout, in.stderr}
		for i, s := range req.Stdio {
			switch {
			case s == abi.StdioPipe:
				p := newPipe()
				switch i {
				case 0:
					c.in, ci.stdin = p, p
				case 1:
					c.out, ci.stdout = p, p
				case 2:
					c.errp, ci.stderr = p, p
				}
			case s == abi.StdioNull:
				if i == 0 {
					ci.stdin = strings.NewReader("")
				} else if i == 1 {
					ci.stdout = io.Discard
				} else {
					ci.stderr = io.Discard
				}
			case s >= 0 && s <= 2:
				switch i {
				case 0:
					ci.stdin = streams[s].(io.Reader)
				case 1:
					ci.stdout = streams[s].(io.Writer)
				case 2:
					ci.stderr = streams[s].(io.Writer)
				}
			default:
				return eINVAL
			}
		}
		env := append(envlist.Unset(req.Env, "PWD"), "PWD="+req.Dir)
		cctx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		in.mu.Lock()
		in.children[pid] = c
		in.mu.Unlock()
		go func() {
			c.status = b.run(cctx, ci, req.Argv, env)
			if c.in != nil {
				c.in.CloseRead()
			}
			if c.out != nil {
				c.out.CloseWrite()
			}
			if c.errp != nil {
				c.errp.CloseWrite()
			}
			close(c.done)
		}()
		m.Memory().WriteUint32Le(pidOut, pid)
		return 0
	}).Export(abi.FuncSpawn).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, buf, bufLen, lenOut uint32) uint32 {
		in := inst(ctx)
		in.mu.Lock()
		msg := in.lastErr
		in.mu.Unlock()
		n := min(uint32(len(msg)), bufLen)
		m.Memory().Write(buf, []byte(msg[:n]))
		m.Memory().WriteUint32Le(lenOut, n)
		return 0
	}).Export(abi.FuncLastError).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, pid, buf, bufLen, nOut uint32) uint32 {
		c := getChild(inst(ctx), pid)
		if c == nil || c.in == nil {
			return eBADF
		}
		n, e := c.in.TryWrite(mem(m, buf, bufLen))
		m.Memory().WriteUint32Le(nOut, uint32(n))
		return uint32(e)
	}).Export(abi.FuncWrite).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, pid, stream, buf, bufLen, nOut uint32) uint32 {
		c := getChild(inst(ctx), pid)
		if c == nil {
			return eBADF
		}
		p := c.out
		if stream == 2 {
			p = c.errp
		}
		if p == nil {
			return eBADF
		}
		n, e := p.TryRead(mem(m, buf, bufLen))
		m.Memory().WriteUint32Le(nOut, uint32(n))
		return uint32(e)
	}).Export(abi.FuncRead).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, pid, stream uint32) uint32 {
		c := getChild(inst(ctx), pid)
		if c == nil {
			return eBADF
		}
		switch {
		case stream == 0 && c.in != nil:
			c.in.CloseWrite()
		case stream == 1 && c.out != nil:
			c.out.CloseRead()
		case stream == 2 && c.errp != nil:
			c.errp.CloseRead()
		default:
			return eBADF
		}
		return 0
	}).Export(abi.FuncClose).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, pid, statusOut uint32) uint32 {
		in := inst(ctx)
		c := getChild(in, pid)
		if c == nil {
			return eBADF
		}
		select {
		case <-c.done:
		default:
			return eAGAIN
		}
		in.mu.Lock()
		delete(in.children, pid)
		in.mu.Unlock()
		m.Memory().WriteUint32Le(statusOut, c.status)
		return 0
	}).Export(abi.FuncWait).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, pid uint32) uint32 {
		c := getChild(inst(ctx), pid)
		if c == nil {
			return eBADF
		}
		c.cancel()
		return 0
	}).Export(abi.FuncKill).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, path, pathLen, mode uint32) uint32 {
		if err := os.Chmod(inst(ctx).box.hostPath(string(mem(m, path, pathLen))), fs.FileMode(mode&0o777)); err != nil {
			return eNOENT
		}
		return 0
	}).Export(abi.FuncChmod).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, path, pathLen, uid, gid uint32) uint32 {
		if _, err := os.Lstat(inst(ctx).box.hostPath(string(mem(m, path, pathLen)))); err != nil {
			return eNOENT
		}
		return 0 // owners are not kept by this harness
	}).Export(abi.FuncLchown).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, path, pathLen, follow, out uint32) uint32 {
		p := inst(ctx).box.hostPath(string(mem(m, path, pathLen)))
		stat := os.Lstat
		if follow == 1 {
			stat = os.Stat
		}
		fi, err := stat(p)
		if err != nil {
			return eNOENT
		}
		rec := abi.Stat{Mode: fsimage.UnixMode(fi.Mode()), Nlink: 1}.Encode()
		m.Memory().Write(out, rec[:])
		return 0
	}).Export(abi.FuncStat).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, delta int32) uint32 {
		return 0 // this harness has no process limit
	}).Export(abi.FuncTask).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, out uint32) uint32 {
		m.Memory().WriteUint64Le(out, 0) // uid 0, gid 0: this harness runs as root
		return 0
	}).Export(abi.FuncIDs).
		Instantiate(ctx)
	return err
}

var (
	boxOnce   sync.Once
	boxWasm   string
	boxRT     wazero.Runtime
	boxMod    wazero.CompiledModule
	boxErr    error
	buildTime time.Duration
)

// compiled builds busybox.wasm (cached by shims/build) and compiles it
// once per test binary.
func compiled(tb testing.TB) (string, wazero.Runtime, wazero.CompiledModule) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds and runs busybox.wasm; skipped with -short")
	}
	boxOnce.Do(func() {
		ctx := context.Background()
		root, err := build.Root()
		if err != nil {
			boxErr = err
			return
		}
		start := time.Now()
		boxWasm, boxErr = build.Build(ctx, filepath.Join(root, ".cache", "shims"), build.WithRoot(root))
		buildTime = time.Since(start)
		if boxErr != nil {
			return
		}
		cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(root, ".cache", "wazero"))
		if err != nil {
			boxErr = err
			return
		}
		boxRT = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
			WithCompilationCache(cache).WithCloseOnContextDone(true))
		wasi_snapshot_preview1.MustInstantiate(ctx, boxRT)
		if boxErr = instantiateHost(ctx, boxRT); boxErr != nil {
			return
		}
		bin, err := os.ReadFile(boxWasm)
		if err != nil {
			boxErr = err
			return
		}
		if boxMod, boxErr = boxRT.CompileModule(ctx, bin); boxErr != nil {
			return
		}
		boxErr = stubNet(ctx, boxRT, boxMod)
	})
	if boxErr != nil {
		tb.Fatal(boxErr)
	}
	return boxWasm, boxRT, boxMod
}

// stubNet adds a wasmbox_net whose every function fails with ENOSYS:
// this harness has no network (the runtime's tests cover the network
// applets on the real one).
func stubNet(ctx context.Context, rt wazero.Runtime, mod wazero.CompiledModule) error {
	b := rt.NewHostModuleBuilder(abi.NetModuleName)
	for _, f := range mod.ImportedFunctions() {
		if m, name, _ := f.Import(); m == abi.NetModuleName {
			b.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
				stack[0] = uint64(abi.ENOSYS)
			}), f.ParamTypes(), f.ResultTypes()).Export(name)
		}
	}
	_, err := b.Instantiate(ctx)
	return err
}

// newBox lays out a box in a temp dir: /bin/busybox with links for sh and
// every applet, /usr/bin/sh a copy (so it runs as a child), /bin/elf a
// native program, /tmp, /work.
func newBox(tb testing.TB, rt wazero.Runtime, mod wazero.CompiledModule, wasm string) *box {
	tb.Helper()
	root := tb.TempDir()
	for _, d := range []string{"bin", "usr/bin", "tmp", "work"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	bin, err := os.ReadFile(wasm)
	if err != nil {
		tb.Fatal(err)
	}
	for p, data := range map[string][]byte{"bin/busybox": bin, "usr/bin/sh": bin, "bin/elf": []byte("\x7fELF\x02\x01\x01")} {
		if err := os.WriteFile(filepath.Join(root, p), data, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for _, n := range append(applets.Names(), "sh") {
		// Relative targets: the dir mount follows symlinks on the host.
		if err := os.Symlink("busybox", filepath.Join(root, "bin", n)); err != nil {
			tb.Fatal(err)
		}
	}
	b := &box{t: tb, rt: rt, compiled: mod, root: root}
	return b
}

// harness returns a fresh box on the shared runtime.
func harness(t testing.TB) *box {
	wasm, rt, mod := compiled(t)
	return newBox(t, rt, mod, wasm)
}

type runResult struct {
	Stdout, Stderr string
	Status         uint32
}

func (b *box) sh(t testing.TB, stdin string, args ...string) runResult {
	t.Helper()
	var out, errOut lockedWriter
	in := &instance{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := b.run(ctx, in, args, []string{"PATH=/usr/local/bin:/bin", "PWD=/work", "HOME=/root"})
	return runResult{out.String(), errOut.String(), st}
}

func needApplets(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := applets.Lookup(n); !ok {
			t.Fatalf("applet %s is missing from the multi-call module", n)
		}
	}
}

func TestE2E(t *testing.T) {
	b := harness(t)
	entries, err := os.ReadDir(b.root)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"run.sh": "#!/bin/sh\necho \"$0 $1\"\n", "plain": "echo plain $0 $1\n"} {
		if err := os.WriteFile(filepath.Join(b.root, "work", name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		applets []string
		script  string
		want    runResult
		child   bool // must have spawned a child
	}{
		{"ls | wc", []string{"ls", "wc"}, `ls / | wc -l`, runResult{Stdout: strconv.Itoa(len(entries)) + "\n"}, false},
		{"echo | tr", []string{"tr"}, `echo abc | tr a-z A-Z`, runResult{Stdout: "ABC\n"}, false},
		{"loop appends, wc reads", []string{"wc"}, `cd /tmp; for i in 1 2 3; do echo $i >> f; done; wc -l < f`, runResult{Stdout: "3\n"}, false},
		{"exit status", nil, `exit 3`, runResult{Status: 3}, false},
		{"nested sh exit status", nil, `sh -c 'exit 3'`, runResult{Status: 3}, false},
		{"not found", nil, `nosuch`, runResult{Stderr: "sh: nosuch: not found\n", Status: 127}, false},
		{"native program", nil, `/bin/elf; echo $?`, runResult{Stdout: "126\n", Stderr: "sh: /bin/elf: not a Wasm module (native program?)\n"}, false},
		{"child with pipes both ways", []string{"sort", "cat"}, `printf 'b\na\n' | /usr/bin/sh -c 'sort' | cat`, runResult{Stdout: "a\nb\n"}, true},
		{"child shares stdout and stderr", nil, `/usr/bin/sh -c 'echo out; echo err >&2; exit 5'; echo $?`, runResult{Stdout: "out\n5\n", Stderr: "err\n"}, true},
		{"child working directory", nil, `cd /tmp && /usr/bin/sh -c 'echo $PWD; pwd'`, runResult{Stdout: "/tmp\n/tmp\n"}, true},
		{"much data through a child", []string{"wc"}, `i=0; while [ $i -lt 3000 ]; do echo "line $i of the test"; i=$((i+1)); done | /usr/bin/sh -c 'while read a; do echo "$a"; done' | wc -l`,
			runResult{Stdout: "3000\n"}, true},
		{"command substitution and here-document", []string{"tr", "cat"}, "x=$(echo hi | tr a-z A-Z)\ncat <<EOF\n[$x]\nEOF", runResult{Stdout: "[HI]\n"}, false},
		{"background job and wait", []string{"cat"}, `echo bg > /tmp/bg & wait; cat /tmp/bg`, runResult{Stdout: "bg\n"}, false},
		{"test -x sees the box's modes", nil, `test -x /bin/busybox && echo x; test -x /work || echo ok`, runResult{Stdout: "x\n"}, false},
		{"busybox lists sh", nil, `busybox | while read a; do [ "$a" = sh ] && echo $a; done`, runResult{Stdout: "sh\n"}, false},
		{"command -v and type find box programs", nil, `command -v sh; type cat; command -v nosuch || echo none`, runResult{Stdout: "/bin/sh\ncat is /bin/cat\nnone\n"}, false},
		{"shell features", []string{"cat", "tr"}, `f() { echo "f:$1"; return 2; }; f a || echo "status $?"
(cd /tmp; echo sub > s; pwd); pwd; cat /tmp/s
set -e; trap 'echo trapped' EXIT
x=$(printf 'a\nb\n' | tr a-z A-Z | while read l; do echo "<$l>"; done); echo $x
cat <<-EOF 2>&1 >/tmp/h
	indented $x
	EOF
cat < /tmp/h; nosuch 2>&1 | tr a-z A-Z; false; echo never`,
			runResult{Stdout: "f:a\nstatus 2\n/tmp\n/work\nsub\n<A> <B>\nindented <A>\n<B>\nSH: NOSUCH: NOT FOUND\ntrapped\n", Status: 1}, false},
		{"device files and a child", nil, `trap 'echo bye' INT EXIT; /usr/bin/sh -c 'echo hidden; echo err >&2' > /dev/null 2>&1; echo $? > /dev/stderr; umask`,
			runResult{Stdout: "0022\nbye\n", Stderr: "0\n"}, true},
		{"#!/bin/sh script runs in-process", []string{"chmod"}, "printf '#!/bin/sh\\necho \"$0 $1\"\\n' > /tmp/s.sh; /tmp/s.sh; chmod 755 /tmp/s.sh; /tmp/s.sh arg",
			runResult{Stdout: "/tmp/s.sh arg\n", Stderr: "sh: /tmp/s.sh: permission denied\n"}, false},
		{"shebang scripts", nil, `./run.sh x; ./plain y`, runResult{Stdout: "/work/run.sh x\nplain /work/plain y\n"}, false},
		{"read from the shell's stdin", nil, `read a; echo "got $a"`, runResult{Stdout: "got \n"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			needApplets(t, tc.applets...)
			before := b.spawns.Load()
			got := b.sh(t, "", "sh", "-c", tc.script)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("sh -c %q (-want +got):\n%s", tc.script, diff)
			}
			if spawned := b.spawns.Load() > before; spawned != tc.child {
				t.Errorf("spawned a child: %v, want %v", spawned, tc.child)
			}
		})
	}
}

func TestE2EStdio(t *testing.T) {
	b := harness(t)
	got := b.sh(t, "typed\n", "sh", "-c", `/usr/bin/sh -c 'read a; echo "child read $a"'`)
	if diff := cmp.Diff(runResult{Stdout: "child read typed\n"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var req spawnReq
	b.requests.Range(func(_, v any) bool { req = v.(spawnReq); return true })
	if req.Stdio != [3]int{0, 1, 2} {
		t.Errorf("the child's stdio = %v, want the shell's own streams shared: [0 1 2]", req.Stdio)
	}
	// A script on stdin; applets by their own name.
	got = b.sh(t, "echo \"$0\"\nexit 4\n", "sh")
	if diff := cmp.Diff(runResult{Stdout: "sh\n", Status: 4}, got); diff != "" {
		t.Errorf("script on stdin (-want +got):\n%s", diff)
	}
}

// TestE2EMeasure logs the module's size and how long `busybox true` takes
// to instantiate and run with the compiled module reused.
func TestE2EMeasure(t *testing.T) {
	b := harness(t)
	fi, err := os.Stat(boxWasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("busybox.wasm: %d bytes (%.1f MiB); Build took %v", fi.Size(), float64(fi.Size())/(1<<20), buildTime)
	args := []string{"busybox", "true"}
	if _, ok := applets.Lookup("true"); !ok {
		args = []string{"sh", "-c", ":"}
	}
	const n = 20
	start := time.Now()
	for range n {
		if got := b.sh(t, "", args...); got.Status != 0 {
			t.Fatalf("%q: %+v", args, got)
		}
	}
	t.Logf("%q: %v per instantiate+run (mean of %d)", args, time.Since(start)/n, n)
}

func BenchmarkBusyboxTrue(b *testing.B) {
	bx := harness(b)
	args := []string{"busybox", "true"}
	if _, ok := applets.Lookup("true"); !ok {
		args = []string{"sh", "-c", ":"}
	}
	for b.Loop() {
		if got := bx.sh(b, "", args...); got.Status != 0 {
			b.Fatalf("%q: %+v", args, got)
		}
	}
}
