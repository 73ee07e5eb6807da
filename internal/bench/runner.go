package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/runtime"
)

// runnerRows measures the runner as a library (issue 6): its overhead over
// a bare wazero instantiation of the same module, re-run latency of a
// Python box, memory per idle box, and throughput of concurrent short
// Python runs, each against a baseline measured alongside.
func runnerRows(cmd func(args ...string) func() error, home, shimsDir string) ([]row, error) {
	ctx := context.Background()
	if err := cmd("build", "-t", "benchrunner", "--progress", "quiet", "internal/bench/testdata/pybox")(); err != nil {
		return nil, err
	}
	box, err := runtime.OpenBox(filepath.Join(home, "oci"), "benchrunner")
	if err != nil {
		return nil, err
	}
	defer box.Close()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(filepath.Join(home, "cache", "compiled")))
	if err != nil {
		return nil, err
	}
	defer rt.Close(ctx)
	run := func(args ...string) func() error {
		return func() error {
			c := box.Command(args...)
			return rt.RunBox(ctx, box, c)
		}
	}
	var rows []row

	// 1. busybox `true`: the runner against wazero alone, both with the
	// module compiled in-process.
	code, err := os.ReadFile(filepath.Join(shimsDir, "busybox.wasm"))
	if err != nil {
		return nil, err
	}
	bare, err := bareWazero(ctx, code, 100)
	if err != nil {
		return nil, err
	}
	if err := run("true")(); err != nil {
		return nil, err
	}
	ours, err := percentiles(100, run("true"))
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{"library: run `true` (busybox) in a box, p50", ms(ours[50]),
		fmt.Sprintf("%.2fx a bare wazero instantiate of the same module (%s)", ratio(ours[50], bare), ms(bare))})

	// 2. python -c pass, 200 runs in-process.
	native := nativePython()
	if err := run("python3", "-c", "pass")(); err != nil {
		return nil, err
	}
	py, err := percentiles(200, run("python3", "-c", "pass"))
	if err != nil {
		return nil, err
	}
	nat, err := percentiles(50, func() error { return exec.Command(native, "-c", "pass").Run() })
	if err != nil {
		return nil, err
	}
	rows = append(rows,
		row{"library: re-run `python3 -c pass`, p50 of 200", ms(py[50]), fmt.Sprintf("%.1fx native %s (%s)", ratio(py[50], nat[50]), native, ms(nat[50]))},
		row{"library: re-run `python3 -c pass`, p99 of 200", ms(py[99]), fmt.Sprintf("%.1fx native p99 (%s)", ratio(py[99], nat[99]), ms(nat[99]))})

	// 2b. Issue 11's goal: the clean-state snippet in-process, from the
	// snapshot `wasmbox build` took (p50 <= 1 ms, p99 <= 5 ms).
	const snippet = "print(sum(range(1000)))"
	var st runtime.Stats
	snip := func() error {
		c := box.Command("python3", "-c", snippet)
		c.Stats = &st
		if err := rt.RunBox(ctx, box, c); err != nil {
			return err
		}
		if st.Snapshots != 1 {
			return fmt.Errorf("the snippet did not start from the snapshot")
		}
		return nil
	}
	if err := snip(); err != nil {
		return nil, err
	}
	sn, err := percentiles(200, snip)
	if err != nil {
		return nil, err
	}
	natSn, err := percentiles(50, func() error { return exec.Command(native, "-c", snippet).Run() })
	if err != nil {
		return nil, err
	}
	rows = append(rows,
		row{fmt.Sprintf("library: `%s` from the snapshot, clean state, p50 (p99) of 200", snippet), fmt.Sprintf("%s (%s)", ms(sn[50]), ms(sn[99])),
			fmt.Sprintf("%.2fx native `python3 -c` (%s; goal p50 <= 1 ms, p99 <= 5 ms)", ratio(sn[50], natSn[50]), ms(natSn[50]))})

	// 3. Memory per idle box: boxes blocked reading stdin.
	perBox, err := idleMemory(ctx, rt, box, 20)
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{"memory per idle python box (20 blocked on stdin, RSS growth / 20)", units.Size(int64(perBox)), ""})

	// 4. Throughput: 100 short python runs, as many at once as cores.
	par := max(2, goMaxProcs())
	ours2, err := throughput(100, par, run("python3", "-c", "pass"))
	if err != nil {
		return nil, err
	}
	nat2, err := throughput(100, par, func() error { return exec.Command(native, "-c", "pass").Run() })
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{fmt.Sprintf("library: concurrent `python3 -c pass`, %d at a time", par), fmt.Sprintf("%.0f runs/s", ours2),
		fmt.Sprintf("%.2fx native's %.0f runs/s", ours2/nat2, nat2)})
	// 5. The cost of stopping spinning code at once (issue 16): n-body
	// on an interruptible Runtime against the default one, which ends a
	// process at its next system call and has Run wait for it.
	irow, err := interruptibleRow(ctx, box, rt, home)
	if err != nil {
		return nil, err
	}
	rows = append(rows, irow)
	return rows, nil
}

// interruptibleRow runs testdata/nbody.py (a read-only mount) for
// nbodySteps steps on the default Runtime and on an interruptible one.
func interruptibleRow(ctx context.Context, box *runtime.Box, rt *runtime.Runtime, home string) (row, error) {
	irt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(filepath.Join(home, "cache", "compiled")).WithInterruptible(true))
	if err != nil {
		return row{}, err
	}
	defer irt.Close(ctx)
	dir, err := runtime.OpenHostDir(filepath.Join("internal", "bench", "testdata"))
	if err != nil {
		return row{}, err
	}
	defer dir.Close()
	nbody := func(r *runtime.Runtime) func() error {
		return func() error {
			c := box.Command("python3", "/bench/nbody.py", strconv.Itoa(nbodySteps))
			c.Mounts = []runtime.Mount{{Target: "/bench", Volume: dir, ReadOnly: true}}
			return r.RunBox(ctx, box, c)
		}
	}
	for _, r := range []*runtime.Runtime{rt, irt} { // compile first
		if err := nbody(r)(); err != nil {
			return row{}, err
		}
	}
	def, err := median(3, nbody(rt))
	if err != nil {
		return row{}, err
	}
	intr, err := median(3, nbody(irt))
	if err != nil {
		return row{}, err
	}
	return row{fmt.Sprintf("library: n-body %d steps on an interruptible Runtime (stops spinning code at once)", nbodySteps), ms(intr),
		fmt.Sprintf("%.1fx the default Runtime (%s), which Run waits on instead: its cost of stopping", ratio(intr, def), ms(def))}, nil
}

func nativePython() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

func goMaxProcs() int {
	n, _ := strconv.Atoi(os.Getenv("GOMAXPROCS"))
	if n > 0 {
		return n
	}
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 2
	}
	n, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	return max(n, 1)
}

// bareWazero is the p50 of instantiating busybox `true` with wazero alone:
// WASI, the process and network modules stubbed (busybox imports them),
// no file system.
func bareWazero(ctx context.Context, code []byte, n int) (time.Duration, error) {
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	cm, err := r.CompileModule(ctx, code)
	if err != nil {
		return 0, err
	}
	// Stub every function busybox imports from wasmbox_proc and
	// wasmbox_net.
	for _, host := range []string{"wasmbox_proc", "wasmbox_net"} {
		b := r.NewHostModuleBuilder(host)
		for _, f := range cm.ImportedFunctions() {
			mod, name, _ := f.Import()
			if mod != host {
				continue
			}
			b.NewFunctionBuilder().WithGoFunction(stub{results: len(f.ResultTypes())}, f.ParamTypes(), f.ResultTypes()).Export(name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			return 0, err
		}
	}
	one := func() error {
		mod, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithArgs("true"))
		if mod != nil {
			mod.Close(ctx)
		}
		if err != nil && !strings.Contains(err.Error(), "exit_code(0)") {
			return err
		}
		return nil
	}
	if err := one(); err != nil {
		return 0, err
	}
	p, err := percentiles(n, one)
	if err != nil {
		return 0, err
	}
	return p[50], nil
}

type stub struct{ results int }

func (s stub) Call(_ context.Context, stack []uint64) {
	for i := 0; i < s.results; i++ {
		stack[i] = 52 // ENOSYS
	}
}

// percentiles runs f n times and returns the durations by percentile
// (index 0-100).
func percentiles(n int, f func() error) ([101]time.Duration, error) {
	var out [101]time.Duration
	ds := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		d, err := timeOnce(f)
		if err != nil {
			return out, err
		}
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	for p := range out {
		out[p] = ds[min(len(ds)-1, p*len(ds)/100)]
	}
	return out, nil
}

// idleMemory starts k boxes that block reading stdin and returns the
// growth of this process's resident memory per box.
func idleMemory(ctx context.Context, rt *runtime.Runtime, box *runtime.Box, k int) (float64, error) {
	before, err := rss()
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	writers := make([]*io.PipeWriter, k)
	errs := make(chan error, k)
	for i := 0; i < k; i++ {
		pr, pw := io.Pipe()
		writers[i] = pw
		c := box.Command("python3", "-c", "import sys; sys.stdin.read()")
		c.Stdin = pr
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rt.RunBox(ctx, box, c); err != nil {
				errs <- err
			}
		}()
	}
	time.Sleep(3 * time.Second) // all started and blocked
	after, err := rss()
	for _, w := range writers {
		w.Close()
	}
	wg.Wait()
	close(errs)
	if err != nil {
		return 0, err
	}
	if e := <-errs; e != nil {
		return 0, e
	}
	return float64(after-before) / float64(k), nil
}

func rss() (int64, error) { return rssOf("self") }

// rssOf is the resident memory of process pid ("self": this one), Linux only.
func rssOf(pid string) (int64, error) {
	status := "/proc/" + pid + "/status"
	data, err := os.ReadFile(status)
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in %s", status)
}

// throughput runs f total times, par at once, and returns runs per second.
func throughput(total, par int, f func() error) (float64, error) {
	start := time.Now()
	jobs := make(chan struct{}, total)
	for i := 0; i < total; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := f(); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return float64(total) / time.Since(start).Seconds(), nil
}
