package wasmsnap

// Snapshots of the real python base's interpreter (shims/python, built
// with the wasmbox_snapshot_init and wasmbox_resume exports), on wazero:
// taken, baked both ways, restored, and timed against a fresh start.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/internal/wasmsnap/cowmem"
)

const pyExe = "/usr/local/bin/python3.11"

// snapImports are the modules the snapshot imports (issue 11's list, but
// sqlite3, which the test's file system can do without).
const snapImports = "json,re,math,datetime,decimal,csv,random,tempfile"

// pyEnv is a run's environment (the part that shapes initialization is the
// snapshot's).
var pyEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8"}

// pySnap is a python interpreter snapshot and the modules to start from it.
type pySnap struct {
	rt       wazero.Runtime
	fresh    wazero.CompiledModule // python.wasm as built: _start
	data     wazero.CompiledModule // baked with the memory as data segments
	host     wazero.CompiledModule // baked for host memory
	image    *cowmem.Image         // the memory, for host
	root     string                // the file system: /usr/local is the python base
	initTime time.Duration         // instantiate + wasmbox_snapshot_init
	memBytes int
}

var (
	pyOnce sync.Once
	pySt   *pySnap
	pyErr  error
)

// pythonSnapshot takes the snapshot once per test binary.
func pythonSnapshot(tb testing.TB) *pySnap {
	tb.Helper()
	if testing.Short() {
		tb.Skip("compiles the python interpreter four times")
	}
	box := filepath.Join(testutil.ShimsDir(tb), "python")
	pyOnce.Do(func() { pySt, pyErr = takePythonSnapshot(box, os.TempDir()) })
	if pyErr != nil {
		tb.Fatal(pyErr)
	}
	return pySt
}

func takePythonSnapshot(box, tmp string) (*pySnap, error) {
	ctx := context.Background()
	wasm, err := os.ReadFile(filepath.Join(box, "python.wasm"))
	if err != nil {
		return nil, err
	}
	cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(tmp, "wasmsnap-test-cache"))
	if err != nil {
		return nil, err
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	fresh, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, err
	}
	// The box's host modules (wasmbox_proc, wasmbox_net), every function
	// answered "not implemented": the interpreter then keeps WASI's
	// answers, and has no sockets.
	hosts := map[string]wazero.HostModuleBuilder{}
	for _, f := range fresh.ImportedFunctions() {
		module, name, _ := f.Import()
		if module == wasi_snapshot_preview1.ModuleName {
			continue
		}
		if len(f.ResultTypes()) != 1 || f.ResultTypes()[0] != api.ValueTypeI32 {
			return nil, fmt.Errorf("%s.%s: want one i32 result (an errno)", module, name)
		}
		if hosts[module] == nil {
			hosts[module] = rt.NewHostModuleBuilder(module)
		}
		enosys := api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) { stack[0] = 52 })
		hosts[module].NewFunctionBuilder().WithGoModuleFunction(enosys, f.ParamTypes(), f.ResultTypes()).Export(name)
	}
	for _, h := range hosts {
		if _, err := h.Instantiate(ctx); err != nil {
			return nil, err
		}
	}
	s := &pySnap{rt: rt, fresh: fresh}
	s.root, err = os.MkdirTemp(tmp, "wasmsnap-root")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(s.root, "usr"), 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(box, filepath.Join(s.root, "usr", "local")); err != nil {
		return nil, err
	}
	inst, err := Instrument(wasm)
	if err != nil {
		return nil, err
	}
	cm, err := rt.CompileModule(ctx, inst)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	start := time.Now()
	mod, err := rt.InstantiateModule(ctx, cm, s.config(&out, []string{pyExe}, append(pyEnv, "WASMBOX_SNAPSHOT_IMPORTS="+snapImports)))
	if err != nil {
		return nil, err
	}
	r, err := mod.ExportedFunction("wasmbox_snapshot_init").Call(ctx)
	if err != nil || r[0] != 0 {
		return nil, fmt.Errorf("wasmbox_snapshot_init: %v %v: %s", r, err, out.String())
	}
	s.initTime = time.Since(start)
	st := capture(nopTB{}, inst, mod)
	mod.Close(ctx)
	s.memBytes = len(st.Memory)
	for _, b := range []struct {
		cm   *wazero.CompiledModule
		data Data
	}{{&s.data, DataFromMemory}, {&s.host, HostMemory}} {
		baked, err := Bake(wasm, st, b.data)
		if err != nil {
			return nil, err
		}
		if *b.cm, err = rt.CompileModule(ctx, baked); err != nil {
			return nil, err
		}
	}
	f := filepath.Join(s.root, "memory.img")
	if err := os.WriteFile(f, st.Memory, 0o600); err != nil {
		return nil, err
	}
	// As from a store: checked, then mapped from a sealed copy.
	s.image, err = cowmem.Load(bytes.NewReader(st.Memory), int64(len(st.Memory)), sha256.Sum256(st.Memory))
	if errors.Is(err, errors.ErrUnsupported) {
		err = nil
	}
	return s, err
}

// nopTB lets capture run outside a test; it fails loudly instead.
type nopTB struct{ testing.TB }

func (nopTB) Helper()                      {}
func (nopTB) Fatal(args ...any)            { panic(fmt.Sprint(args...)) }
func (nopTB) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

func (s *pySnap) config(out *bytes.Buffer, args, env []string) wazero.ModuleConfig {
	return s.configIn(out, "", args, env)
}

func (s *pySnap) configIn(out *bytes.Buffer, stdin string, args, env []string) wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithStdin(strings.NewReader(stdin)).
		WithArgs(args...).WithStdout(out).WithStderr(out).
		WithFSConfig(wazero.NewFSConfig().WithDirMount(s.root, "/")).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		mc = mc.WithEnv(k, v)
	}
	return mc
}

// run runs python with args from how ("fresh", "data", "host") and
// returns its exit code and output.
func (s *pySnap) run(ctx context.Context, how string, env []string, args ...string) (int, string, error) {
	return s.runIn(ctx, how, "", env, args...)
}

func (s *pySnap) runIn(ctx context.Context, how, stdin string, env []string, args ...string) (int, string, error) {
	var out bytes.Buffer
	argv := append([]string{pyExe}, args...)
	cm, entry := s.fresh, "_start"
	switch how {
	case "data":
		cm, entry = s.data, "wasmbox_resume"
	case "host":
		if s.image == nil {
			return 0, "", errors.ErrUnsupported
		}
		cm, entry = s.host, "wasmbox_resume"
		ctx = experimental.WithMemoryAllocator(ctx, s.image.Allocator())
	}
	mod, err := s.rt.InstantiateModule(ctx, cm, s.configIn(&out, stdin, argv, env))
	if err != nil {
		return 0, out.String(), err
	}
	defer mod.Close(ctx)
	_, err = mod.ExportedFunction(entry).Call(ctx)
	var exit *wsys.ExitError
	if errors.As(err, &exit) {
		return int(exit.ExitCode()), out.String(), nil
	}
	if err == nil && entry == "wasmbox_resume" {
		return 0, out.String(), errors.New("wasmbox_resume returned: the run cannot start from the snapshot")
	}
	return 0, out.String(), err
}

func TestPythonSnapshot(t *testing.T) {
	s := pythonSnapshot(t)
	ctx := context.Background()
	t.Logf("snapshot: %d MiB of memory, taken in %v", s.memBytes>>20, s.initTime)
	for _, how := range []string{"fresh", "data", "host"} {
		t.Run(how, func(t *testing.T) {
			if how == "host" && s.image == nil {
				t.Skip("no copy-on-write memory on this OS")
			}
			code, out, err := s.run(ctx, how, append(pyEnv, "PWD=/usr"), "-c", "print(sum(range(1000)))")
			if err != nil || code != 0 || out != "499500\n" {
				t.Fatalf("exit %d, %v, output %q", code, err, out)
			}
			// The run's argv, environment, working directory; the modules of
			// the snapshot already imported; a new random state per run.
			prog := `import os, sys, random
print(sys.argv[1:], os.environ.get("RUN"), os.getcwd(), "json" in sys.modules)
print(random.random(), os.urandom(8).hex())
sys.exit(3)`
			var seen []string
			for i := 0; i < 2; i++ {
				code, out, err := s.run(ctx, how, append(pyEnv, "RUN=r"+fmt.Sprint(i), "PWD=/usr/local"), "-c", prog, "a", "b c")
				if err != nil || code != 3 {
					t.Fatalf("exit %d, %v, output %q", code, err, out)
				}
				first, rest, _ := strings.Cut(out, "\n")
				want := fmt.Sprintf("['a', 'b c'] r%d /usr/local %s", i, map[bool]string{true: "True", false: "False"}[how != "fresh"])
				if first != want {
					t.Errorf("run %d: %q, want %q", i, first, want)
				}
				seen = append(seen, rest)
			}
			if seen[0] == seen[1] {
				t.Errorf("two runs drew the same random numbers: %q", seen[0])
			}
		})
	}
	// A run whose environment shaped initialization differently starts
	// afresh. (The runs above left nothing: each instance is new.)
	if _, _, err := s.run(ctx, "data", append(pyEnv, "PYTHONHASHSEED=1"), "-c", "pass"); err == nil || !strings.Contains(err.Error(), "cannot start from the snapshot") {
		t.Errorf("PYTHONHASHSEED=1 from a snapshot without it: %v", err)
	}
	if _, _, err := s.run(ctx, "data", pyEnv, "-I", "-c", "pass"); err == nil || !strings.Contains(err.Error(), "cannot start from the snapshot") {
		t.Errorf("-I: %v", err)
	}
}

// BenchmarkPythonStart times instantiate + first call of the interpreter
// running `-c pass`: fresh (today's path: _start), from the snapshot baked
// as data segments, and from the snapshot in copy-on-write host memory.
func BenchmarkPythonStart(b *testing.B) {
	s := pythonSnapshot(b)
	ctx := context.Background()
	for _, how := range []string{"fresh", "data", "host"} {
		for _, code := range []string{"pass", "print(sum(range(1000)))"} {
			b.Run(how+"/"+strings.Fields(strings.NewReplacer("(", " ").Replace(code))[0], func(b *testing.B) {
				if how == "host" && s.image == nil {
					b.Skip("no copy-on-write memory on this OS")
				}
				for b.Loop() {
					if c, out, err := s.run(ctx, how, pyEnv, "-c", code); err != nil || c != 0 {
						b.Fatalf("exit %d, %v: %s", c, err, out)
					}
				}
			})
		}
	}
	// The resume alone, as a pool of instances made ahead of time would
	// give it (such a pool needs argv, environment and stdio bound after
	// instantiation, which wazero's WASI does not offer: RATIONALE.md).
	b.Run("host-resume-only/pass", func(b *testing.B) {
		if s.image == nil {
			b.Skip("no copy-on-write memory on this OS")
		}
		ctx := experimental.WithMemoryAllocator(ctx, s.image.Allocator())
		var out bytes.Buffer
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mod, err := s.rt.InstantiateModule(ctx, s.host, s.config(&out, []string{pyExe, "-c", "pass"}, pyEnv))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			_, err = mod.ExportedFunction("wasmbox_resume").Call(ctx)
			b.StopTimer()
			var exit *wsys.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 0 {
				b.Fatalf("%v: %s", err, out.String())
			}
			mod.Close(ctx)
			b.StartTimer()
		}
	})
}

// TestPythonSnapshotSameAsFresh: each way of naming the program (-c, a
// script, -m, stdin) prints from the snapshot what it prints started
// afresh, and a run sees nothing an earlier run changed.
func TestPythonSnapshotSameAsFresh(t *testing.T) {
	s := pythonSnapshot(t)
	ctx := context.Background()
	dir := filepath.Join(s.root, "t")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	prog := "import sys, os, json\n" +
		"print(sys.argv, __name__, sys.path[0], os.getcwd(), os.environ['X'])\n" +
		"print(getattr(json, 'left', None)); json.left = 1\n" +
		"print(sorted(k for k in globals() if not k.startswith('__')))\n" +
		"import atexit; atexit.register(print, 'bye')\n"
	if err := os.WriteFile(filepath.Join(dir, "prog.py"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	image, err := os.ReadFile(filepath.Join(s.root, "memory.img"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(pyEnv, "PWD=/t", "X=x")
	for _, tc := range []struct {
		name, stdin string
		args        []string
	}{
		{"command", "", []string{"-c", prog, "1"}},
		{"script", "", []string{"prog.py", "2"}},
		{"module", "", []string{"-m", "prog", "3"}},
		{"stdin", prog, []string{"-", "4"}},
		{"no arguments", prog, nil},
		{"exception", "", []string{"-c", "import sys; print('out'); 1/0"}},
		{"input", "line one\nline two\n", []string{"-c", "print(input()); import sys; print(sys.stdin.read())"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, want, err := s.runIn(ctx, "fresh", tc.stdin, env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, how := range []string{"data", "host"} {
				if how == "host" && s.image == nil {
					continue
				}
				for i := 0; i < 2; i++ {
					c, got, err := s.runIn(ctx, how, tc.stdin, env, tc.args...)
					if err != nil || c != code || got != want {
						t.Errorf("%s, run %d: exit %d, %v, output\n%s\nwant exit %d, output\n%s", how, i, c, err, got, code, want)
					}
				}
			}
		})
	}
	if now, err := os.ReadFile(filepath.Join(s.root, "memory.img")); err != nil || !bytes.Equal(now, image) {
		t.Errorf("the memory image changed under the runs (%v)", err)
	}
}
