// Command bench measures wasmbox against a native baseline run in the same
// process and prints a table (make bench). Times are medians of several
// runs; ratios compare with the native baseline measured alongside.
package main

import (
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
	"github.com/wasmbox/wasmbox/shims"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == maxRSSMode {
		os.Exit(maxRSS(os.Args[2:]))
	}
	wasmbox := flag.String("wasmbox", "bin/wasmbox", "the wasmbox binary")
	n := flag.Int("n", 15, "runs per measurement")
	example := flag.String("example", "examples/hello-shell", "the example box to build")
	rows := flag.String("rows", "all", "which rows: all, python (the python base only), network (its network rows only) or runner (the library's)")
	flag.Parse()
	var err error
	switch *rows {
	case "all", "python":
		err = run(*wasmbox, *example, *n, *rows == "python")
	case "runner":
		err = runRunnerRowsOnly(*wasmbox)
	case "network":
		err = runNetworkRowsOnly(*wasmbox, *n)
	default:
		fmt.Fprintln(os.Stderr, "bench: -rows: want all, python, network or runner")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type row struct {
	what, value, note string
}

// cliRunner returns a maker of functions that run the wasmbox CLI with
// args in env, failing with its output.
func cliRunner(wasmbox string, env []string) func(args ...string) func() error {
	return func(args ...string) func() error {
		return func() error {
			c := exec.Command(wasmbox, args...)
			c.Env = env
			if out, err := c.CombinedOutput(); err != nil {
				return fmt.Errorf("%v: %v\n%s", args, err, out)
			}
			return nil
		}
	}
}

func run(wasmbox, example string, n int, pythonOnly bool) error {
	home, err := os.MkdirTemp("", "wasmbox-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	env := append(os.Environ(), "WASMBOX_HOME="+home)
	cmd := cliRunner(wasmbox, env)
	var rows []row
	if pythonOnly {
		if rows, err = pythonRows(cmd, wasmbox, env, home, n); err != nil {
			return err
		}
		srvRows, err := serveRows(wasmbox, env, home, n)
		if err != nil {
			return err
		}
		printRows(append(rows, srvRows...), n)
		return nil
	}

	build, err := timeOnce(cmd("build", "-t", "bench", "--progress", "quiet", example))
	if err != nil {
		return err
	}
	rows = append(rows, row{"build " + example + " (empty store and cache)", ms(build), ""})

	twenty := "internal/bench/testdata/twenty"
	cold20, err := timeOnce(cmd("build", "--no-cache", "-t", "twenty", "--progress", "quiet", twenty))
	if err != nil {
		return err
	}
	cached20, err := median(5, cmd("build", "-t", "twenty", "--progress", "quiet", twenty))
	if err != nil {
		return err
	}
	rows = append(rows,
		row{"build a 20-instruction Dockerfile, --no-cache (compile cache warm)", ms(cold20), ""},
		row{"rebuild it unchanged (every step CACHED)", ms(cached20), fmt.Sprintf("%.0fx faster", ratio(cold20, cached20))},
	)

	compiled := filepath.Join(home, "cache", "compiled")
	cold, err := median(3, func() error {
		if err := os.RemoveAll(compiled); err != nil {
			return err
		}
		return cmd("run", "bench", "true")()
	})
	if err != nil {
		return err
	}
	rows = append(rows, row{"cold `wasmbox run IMG true` (empty compile cache)", ms(cold), ""})
	if err := cmd("run", "bench", "true")(); err != nil { // refill the cache
		return err
	}
	warm, err := median(n, cmd("run", "bench", "true"))
	if err != nil {
		return err
	}
	native, err := median(n, func() error { return exec.Command("sh", "-c", "true").Run() })
	if err != nil {
		return err
	}
	rows = append(rows,
		row{"warm `wasmbox run IMG true`", ms(warm), fmt.Sprintf("%.1fx native (goal < 50 ms)", ratio(warm, native))},
		row{"native `sh -c true`", ms(native), "baseline"},
	)

	inproc, err := inProcess(home, "bench", []string{"true"}, n)
	if err != nil {
		return err
	}
	rows = append(rows, row{"library: re-run `true`, module compiled in-process", ms(inproc), fmt.Sprintf("%.1fx native", ratio(inproc, native))})

	pipe, err := median(n, cmd("run", "bench", "sh", "-c", "ls / | wc -l"))
	if err != nil {
		return err
	}
	nativePipe, err := median(n, func() error { return exec.Command("sh", "-c", "ls / | wc -l").Run() })
	if err != nil {
		return err
	}
	rows = append(rows, row{"warm `wasmbox run IMG sh -c 'ls / | wc -l'`", ms(pipe), fmt.Sprintf("%.1fx native (%s)", ratio(pipe, nativePipe), ms(nativePipe))})

	pyRows, err := pythonRows(cmd, wasmbox, env, home, n)
	if err != nil {
		return err
	}
	rows = append(rows, pyRows...)
	srvRows, err := serveRows(wasmbox, env, home, n)
	if err != nil {
		return err
	}
	rows = append(rows, srvRows...)

	shimsDir, err := shims.Dir()
	if err != nil {
		return err
	}
	runRows, err := runnerRows(cmd, home, shimsDir)
	if err != nil {
		return err
	}
	rows = append(rows, runRows...)

	regRows, err := registryRows(cmd, wasmbox, home, example)
	if err != nil {
		return err
	}
	rows = append(rows, regRows...)

	printRows(rows, n)
	return nil
}

func printRows(rows []row, n int) {
	fmt.Printf("| measurement (median of %d unless said) | value | vs baseline |\n|---|---|---|\n", n)
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.what, r.value, r.note)
	}
}

// inProcess runs args in box ref through the Go library, reusing the
// compiled module, and returns the median of n runs.
func inProcess(home, ref string, args []string, n int) (time.Duration, error) {
	ctx := context.Background()
	store, err := oci.OpenStore(filepath.Join(home, "oci"))
	if err != nil {
		return 0, err
	}
	img, err := store.Resolve(ref)
	if err != nil {
		return 0, err
	}
	tree, closer, err := img.Open()
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(filepath.Join(home, "cache", "compiled")))
	if err != nil {
		return 0, err
	}
	defer rt.Close(ctx)
	one := func() error {
		return rt.Run(ctx, runtime.NewOverlay(tree), runtime.Cmd{Args: args, Env: img.Config.Config.Env, Dir: img.Config.Config.WorkingDir})
	}
	if err := one(); err != nil {
		return 0, err
	}
	return median(n, one)
}

func timeOnce(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

func median(n int, f func() error) (time.Duration, error) {
	ds := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		d, err := timeOnce(f)
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// pythonRows measures the python base against the distribution's native
// python3 (/usr/bin/python3), run alongside.
func pythonRows(cmd func(args ...string) func() error, wasmboxBin string, env []string, home string, n int) ([]row, error) {
	native := "/usr/bin/python3"
	if _, err := os.Stat(native); err != nil {
		native = "python3"
	}
	const app = "testdata/dockerfiles/python-app"
	if err := cmd("build", "-t", "benchpy", "--progress", "quiet", app)(); err != nil {
		return nil, err
	}
	warm, err := median(n, cmd("run", "benchpy", "python", "-c", "pass"))
	if err != nil {
		return nil, err
	}
	nat, err := median(n, func() error { return exec.Command(native, "-c", "pass").Run() })
	if err != nil {
		return nil, err
	}
	const floatLoop = "x=0.0\nfor i in range(1500000): x += (i % 7) * 0.5 - (i % 3)\nprint(x)"
	loop, err := median(3, cmd("run", "benchpy", "python", "-c", floatLoop))
	if err != nil {
		return nil, err
	}
	natLoop, err := median(3, func() error { return exec.Command(native, "-c", floatLoop).Run() })
	if err != nil {
		return nil, err
	}
	rows := []row{
		{"warm `wasmbox run IMG python -c pass`", ms(warm), fmt.Sprintf("%.1fx native %s (%s; goal <= 2x)", ratio(warm, nat), native, ms(nat))},
		{"float loop, 1.5M iterations (`python -c`, start-up included)", ms(loop), fmt.Sprintf("%.1fx native (%s; goal <= 3x)", ratio(loop, natLoop), ms(natLoop))},
	}
	nb, err := nbodyRows(cmd, wasmboxBin, env, home, native)
	if err != nil {
		return nil, err
	}
	rows = append(rows, nb...)
	netRows, err := networkRows(cmd, wasmboxBin, env, home, native)
	if err != nil {
		return nil, err
	}
	rows = append(rows, netRows...)

	// The library, with the compiled module reused in-process.
	many := 3 * n
	inproc, err := inProcess(home, "benchpy", []string{"python", "-c", "pass"}, many)
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{fmt.Sprintf("library: re-run `python -c pass`, module compiled in-process (p50 of %d)", many), ms(inproc), fmt.Sprintf("%.1fx native", ratio(inproc, nat))})

	// What a user sees right after `wasmbox build` with an empty compile
	// cache: the build compiles, the first run loads.
	compiled := filepath.Join(home, "cache", "compiled")
	var builds, firsts []time.Duration
	for i := 0; i < 3; i++ {
		if err := os.RemoveAll(compiled); err != nil {
			return nil, err
		}
		b, err := timeOnce(cmd("build", "-t", "benchpy", "--progress", "quiet", app))
		if err != nil {
			return nil, err
		}
		f, err := timeOnce(cmd("run", "benchpy", "python", "-c", "pass"))
		if err != nil {
			return nil, err
		}
		builds, firsts = append(builds, b), append(firsts, f)
	}
	first := medianOf(firsts)
	rows = append(rows, row{"first `wasmbox run IMG python -c pass` right after `wasmbox build`, empty compile cache (median of 3)", ms(first),
		fmt.Sprintf("%.1fx native; the build (steps CACHED, modules compiled) took %s", ratio(first, nat), ms(medianOf(builds)))})

	// Peak memory: the largest resident set of the process.
	rss, err := medianRSS(n, env, wasmboxBin, "run", "benchpy", "python", "-c", "pass")
	if err != nil {
		return nil, err
	}
	natRSS, err := medianRSS(n, env, native, "-c", "pass")
	if err != nil {
		return nil, err
	}
	floor, err := medianRSS(3, env, "true")
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{"peak memory (max RSS) of `wasmbox run IMG python -c pass`", units.Size(rss),
		fmt.Sprintf("%.1fx native (%s; the measuring floor, `true`, is %s)", float64(rss)/float64(natRSS), units.Size(natRSS), units.Size(floor))})

	// The base layers as a registry carries them: gzip.
	sizes, err := baseLayerSizes(home, "benchpy")
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"python", "shell"} {
		sz, ok := sizes[b]
		if !ok {
			return nil, fmt.Errorf("benchpy has no %s base layer", b)
		}
		note := ""
		if b == "python" {
			note = "goal <= 8 MB"
		}
		rows = append(rows, row{fmt.Sprintf("%s base layer, gzip (raw)", b), fmt.Sprintf("%.2f MB (%.1f MB)", float64(sz[1])/1e6, float64(sz[0])/1e6), note})
	}
	return rows, nil
}

// nbodySteps makes testdata/nbody.py take about 0.7 s in native python on
// the 2-core machine the README's numbers come from.
const nbodySteps = 150000

// nbodyRows runs the n-body simulation (testdata/nbody.py) in a small box
// made for it and in native python, for nbodySteps steps and for none (the
// start-up: imports, setting up the bodies, two energies), and compares the
// CPU time of the steps alone. The printed energies must be the same.
func nbodyRows(cmd func(args ...string) func() error, wasmboxBin string, env []string, home, native string) ([]row, error) {
	ctxDir, err := benchBox(cmd, home, "benchnbody", "FROM python:3.11-slim\nCOPY nbody.py /bench/nbody.py\n", "nbody.py")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(ctxDir, "nbody.py")
	// measure runs args n times, checks that every run printed want (the
	// first run's output if want is empty) and returns the median time and
	// the output.
	measure := func(n int, want string, args ...string) (time.Duration, string, error) {
		var got string
		d, err := median(n, func() error {
			out, err := output(env, args...)
			if err != nil {
				return err
			}
			got = out
			if want == "" {
				want = got
			}
			if got != want {
				return fmt.Errorf("nbody: %v printed %q, native python printed %q: the box computes differently", args, got, want)
			}
			return nil
		})
		return d, got, err
	}
	steps := strconv.Itoa(nbodySteps)
	nat0, want0, err := measure(5, "", native, script, "0")
	if err != nil {
		return nil, err
	}
	natN, wantN, err := measure(3, "", native, script, steps)
	if err != nil {
		return nil, err
	}
	box := func(n int, want string, arg string) (time.Duration, string, error) {
		return measure(n, want, wasmboxBin, "run", "benchnbody", "python", "/bench/nbody.py", arg)
	}
	box0, _, err := box(5, want0, "0")
	if err != nil {
		return nil, err
	}
	boxN, _, err := box(3, wantN, steps)
	if err != nil {
		return nil, err
	}
	return []row{
		{fmt.Sprintf("n-body, %d steps (`python nbody.py %d` in a box, start-up included)", nbodySteps, nbodySteps), ms(boxN),
			fmt.Sprintf("%.1fx native (%s); energies %s equal", ratio(boxN, natN), ms(natN), strings.Join(strings.Fields(wantN), ", "))},
		{"n-body, the steps alone (the above minus `nbody.py 0`)", ms(boxN - box0),
			fmt.Sprintf("%.1fx native (%s; goal <= 3x); start-up %s vs %s", ratio(boxN-box0, natN-nat0), ms(natN-nat0), ms(box0), ms(nat0))},
	}, nil
}

func medianOf(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// maxRSSMode makes the bench program run a command and print its peak
// resident set size. Linux records, at exec, the peak of the memory the
// program replaces: a child started from this (by then large) process
// would report at least this process's peak. A fresh small helper starts
// the measured command instead, so the floor is the helper's few MB.
const maxRSSMode = "-maxrss-of"

// maxRSS runs args and prints their peak resident set size in bytes.
func maxRSS(args []string) int {
	c := exec.Command(args[0], args[1:]...)
	c.Env = os.Environ()
	c.Stdout, c.Stderr = io.Discard, os.Stderr
	if err := c.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", args, err)
		return 1
	}
	rss, ok := peakRSS(c.ProcessState)
	if !ok {
		fmt.Fprintln(os.Stderr, "bench: no resource usage on this system")
		return 1
	}
	fmt.Println(rss)
	return 0
}

// medianRSS measures the peak resident set size of args n times (through
// the helper above) and returns the median, in bytes.
func medianRSS(n int, env []string, args ...string) (int64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	var rss []int64
	for i := 0; i < n; i++ {
		c := exec.Command(self, append([]string{maxRSSMode}, args...)...)
		c.Env = env
		c.Stderr = os.Stderr
		out, err := c.Output()
		if err != nil {
			return 0, fmt.Errorf("%v: %v", args, err)
		}
		var v int64
		if _, err := fmt.Sscan(string(out), &v); err != nil {
			return 0, fmt.Errorf("%v: peak memory %q: %v", args, out, err)
		}
		rss = append(rss, v)
	}
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	return rss[len(rss)/2], nil
}

// baseLayerSizes finds the base layers of box ref by their history entries
// ("wasmbox python base for ...") and returns, per base, the blob's size
// and its size gzipped at the default level.
func baseLayerSizes(home, ref string) (map[string][2]int64, error) {
	store, err := oci.OpenStore(filepath.Join(home, "oci"))
	if err != nil {
		return nil, err
	}
	img, err := store.Resolve(ref)
	if err != nil {
		return nil, err
	}
	out := map[string][2]int64{}
	layer := 0
	for _, h := range img.Config.History {
		if h.EmptyLayer {
			continue
		}
		if layer >= len(img.Manifest.Layers) {
			break
		}
		desc := img.Manifest.Layers[layer]
		layer++
		var base string
		if _, err := fmt.Sscanf(h.CreatedBy, "wasmbox %s base for", &base); err != nil {
			continue
		}
		f, err := os.Open(store.BlobPath(desc.Digest))
		if err != nil {
			return nil, err
		}
		var cw countWriter
		zw := gzip.NewWriter(&cw)
		_, err = io.Copy(zw, f)
		f.Close()
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			return nil, err
		}
		out[base] = [2]int64{desc.Size, cw.n}
	}
	return out, nil
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// benchBox builds the box tag from a context of its own under home: the
// Dockerfile, and files of internal/bench/testdata.
func benchBox(cmd func(args ...string) func() error, home, tag, dockerfile string, files ...string) (string, error) {
	ctxDir := filepath.Join(home, tag+"-box")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return "", err
	}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join("internal", "bench", "testdata", f))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(ctxDir, f), src, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	return ctxDir, cmd("build", "-t", tag, "--progress", "quiet", ctxDir)()
}

// output runs args with env and returns what it printed; a failure says
// what it printed on stderr.
func output(env []string, args ...string) (string, error) {
	c := exec.Command(args[0], args[1:]...)
	c.Env = env
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %v\n%s", args, err, stderr.String())
	}
	return string(out), nil
}
