// Command bench measures wasmbox against a native baseline run in the same
// process and prints a table (make bench). Times are medians of several
// runs; ratios compare with the native baseline measured alongside.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
	"github.com/wasmbox/wasmbox/shims"
)

func main() {
	wasmbox := flag.String("wasmbox", "bin/wasmbox", "the wasmbox binary")
	n := flag.Int("n", 15, "runs per measurement")
	example := flag.String("example", "examples/hello-shell", "the example box to build")
	only := flag.String("rows", "all", "which rows: all, or runner (the library's)")
	flag.Parse()
	var err error
	if *only == "runner" {
		err = runRunnerRowsOnly(*wasmbox)
	} else {
		err = run(*wasmbox, *example, *n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type row struct {
	what, value, note string
}

func run(wasmbox, example string, n int) error {
	home, err := os.MkdirTemp("", "wasmbox-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	env := append(os.Environ(), "WASMBOX_HOME="+home)
	cmd := func(args ...string) func() error {
		return func() error {
			c := exec.Command(wasmbox, args...)
			c.Env = env
			if out, err := c.CombinedOutput(); err != nil {
				return fmt.Errorf("%v: %v\n%s", args, err, out)
			}
			return nil
		}
	}
	var rows []row

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

	inproc, err := inProcess(home, n)
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

	pyRows, err := pythonRows(cmd, n)
	if err != nil {
		return err
	}
	rows = append(rows, pyRows...)

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

	fmt.Printf("| measurement (median of %d) | time or size | vs baseline, notes |\n|---|---|---|\n", n)
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.what, r.value, r.note)
	}
	return nil
}

// inProcess runs `true` of the bench box through the Go library, reusing
// the compiled module.
func inProcess(home string, n int) (time.Duration, error) {
	ctx := context.Background()
	store, err := oci.OpenStore(filepath.Join(home, "oci"))
	if err != nil {
		return 0, err
	}
	img, err := store.Resolve("bench")
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
		return rt.Run(ctx, runtime.NewOverlay(tree), runtime.Cmd{Args: []string{"true"}, Env: img.Config.Config.Env})
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
func pythonRows(cmd func(args ...string) func() error, n int) ([]row, error) {
	native := "/usr/bin/python3"
	if _, err := os.Stat(native); err != nil {
		native = "python3"
	}
	if err := cmd("build", "-t", "benchpy", "--progress", "quiet", "testdata/dockerfiles/python-app")(); err != nil {
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
	const nbody = "x=0.0\nfor i in range(1500000): x += (i % 7) * 0.5 - (i % 3)\nprint(x)"
	loop, err := median(3, cmd("run", "benchpy", "python", "-c", nbody))
	if err != nil {
		return nil, err
	}
	natLoop, err := median(3, func() error { return exec.Command(native, "-c", nbody).Run() })
	if err != nil {
		return nil, err
	}
	return []row{
		{"warm `wasmbox run IMG python -c pass`", ms(warm), fmt.Sprintf("%.1fx native %s (%s; goal <= 2x)", ratio(warm, nat), native, ms(nat))},
		{"float loop, 1.5M iterations (`python -c`, start-up included)", ms(loop), fmt.Sprintf("%.1fx native (%s; goal <= 3x)", ratio(loop, natLoop), ms(natLoop))},
	}, nil
}
