// Command conformance runs a slice of CPython's own regression suite in a
// python box (make conformance) and prints, per module, how many tests
// ran, passed, failed, errored and were skipped.
//
// It fetches CPython's Lib/test from the Debian source package the box's
// interpreter was built from, builds a box FROM python:3.11-slim with the
// test package copied in (in a temporary WASMBOX_HOME), and runs
// `python -m test -v MODULE` once per module, so that a crash stays in its
// module; the host ends a module that runs past -timeout. It exits 1 when a
// module fails for a reason not listed as a known WASI limit (slice.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"
)

func main() {
	wasmbox := flag.String("wasmbox", "bin/wasmbox", "the wasmbox binary")
	shimsDir := flag.String("shims", "", "the built stand-ins (default $WASMBOX_SHIMS, else shims next to -wasmbox)")
	modules := flag.String("run", "", "comma-separated modules to run instead of the slice")
	timeout := flag.Duration("timeout", 15*time.Minute, "time limit of one module")
	logs := flag.String("logs", "", "directory for the output of each module (default: a new temporary directory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := config{wasmbox: *wasmbox, shims: *shimsDir, modules: slice, timeout: *timeout, logs: *logs, out: os.Stdout}
	if *modules != "" {
		cfg.modules = strings.Split(*modules, ",")
	}
	base, results, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	report(os.Stdout, base, results)
	for _, r := range results {
		if !r.passes() {
			os.Exit(1)
		}
	}
}

// stubsDir holds the stubs of slice.go in the box.
const stubsDir = "/conformance/stubs"

type config struct {
	wasmbox, shims string
	modules        []string
	timeout        time.Duration
	logs           string
	out            io.Writer // progress lines
}

func (c *config) logf(format string, args ...any) {
	fmt.Fprintf(c.out, format+"\n", args...)
}

// run prepares the box and runs every module of cfg in it. base names the
// python base the modules ran on, for the report.
func run(ctx context.Context, cfg config) (base string, _ []*result, err error) {
	if cfg.shims == "" {
		cfg.shims = os.Getenv("WASMBOX_SHIMS")
	}
	if cfg.shims == "" {
		cfg.shims = filepath.Join(filepath.Dir(cfg.wasmbox), "shims")
	}
	pkg, pkgVersion, err := boxPython(cfg.shims)
	if err != nil {
		return "", nil, err
	}
	xy := strings.TrimPrefix(pkg, "python") // 3.11
	base = fmt.Sprintf("python %s (CPython %s, Debian source %s=%s)", xy, upstream(pkgVersion), pkg, pkgVersion)
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", nil, err
	}
	test, err := testsuite(ctx, cfg.shims, filepath.Join(cache, "wasmbox", "conformance"), cfg.logf)
	if err != nil {
		return "", nil, err
	}
	if cfg.logs == "" {
		if cfg.logs, err = os.MkdirTemp("", "wasmbox-conformance-logs-"); err != nil {
			return "", nil, err
		}
	} else if err := os.MkdirAll(cfg.logs, 0o755); err != nil {
		return "", nil, err
	}
	home, err := os.MkdirTemp("", "wasmbox-conformance-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(home)
	env := append(os.Environ(), "WASMBOX_HOME="+filepath.Join(home, "home"), "WASMBOX_SHIMS="+cfg.shims)

	context := filepath.Join(home, "context")
	if err := copyTree(test, filepath.Join(context, "test")); err != nil {
		return "", nil, fmt.Errorf("copying the test suite into the build context: %w", err)
	}
	dockerfile := "FROM python:" + xy + "-slim\nCOPY test /usr/local/lib/python" + xy + "/test\n"
	for module, files := range stubs {
		for name, text := range files {
			p := filepath.Join(context, "stubs", module, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return "", nil, err
			}
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				return "", nil, err
			}
		}
	}
	if len(stubs) > 0 {
		dockerfile += "COPY stubs " + stubsDir + "\n"
	}
	if err := os.WriteFile(filepath.Join(context, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", nil, err
	}
	build := exec.CommandContext(ctx, cfg.wasmbox, "build", "-t", "conformance", "--progress", "quiet", context)
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("building the box: %v\n%s", err, out)
	}

	cfg.logf("running %d modules of CPython's test suite in a box of %s; output of each in %s", len(cfg.modules), base, cfg.logs)
	var results []*result
	for _, m := range cfg.modules {
		r, err := runModule(ctx, cfg, env, m)
		if err != nil {
			return "", nil, err
		}
		cfg.logf("%-18s %-7s %6.1fs", m, r.status(), r.dur.Seconds())
		results = append(results, r)
	}
	return base, results, nil
}

// runModule runs one module in its own box run. spec is a module name,
// or a name and regrtest -m patterns after colons
// ("test_decimal:*ContextAPItests*"): only the tests they match run.
func runModule(ctx context.Context, cfg config, env []string, spec string) (*result, error) {
	module, patterns, _ := strings.Cut(spec, ":")
	r := &result{module: module, log: filepath.Join(cfg.logs, module+".log")}
	if patterns != "" {
		r.module += " -m" // a part of the module
	}
	f, err := os.Create(r.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	args := []string{"run"}
	if stubs[module] != nil {
		args = append(args, "-e", "PYTHONPATH="+stubsDir+"/"+module)
	}
	args = append(args, "conformance", "python", "-m", "test", "-v", module)
	if patterns != "" {
		for _, p := range strings.Split(patterns, ":") {
			args = append(args, "-m", p)
		}
	}
	cmd := exec.CommandContext(mctx, cfg.wasmbox, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	start := time.Now()
	err = cmd.Run()
	r.dur = time.Since(start)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case mctx.Err() != nil:
		r.timedOut = true
	case errors.As(err, &ee):
		r.exitCode = ee.ExitCode()
	case err != nil:
		return nil, fmt.Errorf("running %s: %w", module, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return r, parse(f, r)
}

// report prints the base the modules ran on, the date and the machine,
// the table, then every failing test: known ones with their reason, the
// others with the log to read. Each python base gets a report of its own.
func report(w io.Writer, base string, results []*result) {
	const row = "%-18s %6v %7v %7v %7v %8v %8v  %s\n"
	fmt.Fprintf(w, "%s\n%s, %s\n", base, time.Now().UTC().Format("2006-01-02"), machine())
	fmt.Fprintf(w, row, "module", "run", "passed", "failed", "errors", "skipped", "time", "result")
	var tot result
	for _, r := range results {
		fmt.Fprintf(w, row, r.module, r.run, r.passed(), r.failed, r.errors, r.skipped, fmt.Sprintf("%.1fs", r.dur.Seconds()), r.status())
		tot.run += r.run
		tot.failed += r.failed
		tot.errors += r.errors
		tot.skipped += r.skipped
		tot.dur += r.dur
	}
	fmt.Fprintf(w, row, "total", tot.run, tot.passed(), tot.failed, tot.errors, tot.skipped, fmt.Sprintf("%.1fs", tot.dur.Seconds()), "")

	var knownLines, unknownLines []string
	failing := map[string]bool{}
	for _, r := range results {
		for _, id := range r.failing {
			failing[id] = true
			if reason := knownReason(id); reason != "" {
				knownLines = append(knownLines, fmt.Sprintf("  %s: %s", id, reason))
			} else {
				unknownLines = append(unknownLines, fmt.Sprintf("  %s (see %s)", id, r.log))
			}
		}
		switch r.status() {
		case "CRASH", "TIMEOUT":
			unknownLines = append(unknownLines, fmt.Sprintf("  %s: %s (see %s)", r.module, r.status(), r.log))
		case "FAIL":
			if len(r.failing) == 0 {
				unknownLines = append(unknownLines, fmt.Sprintf("  %s: exit %d (see %s)", r.module, r.exitCode, r.log))
			}
		}
	}
	if len(knownLines) > 0 {
		fmt.Fprintf(w, "\nKnown failures (outside wasmbox's runtime):\n%s\n", strings.Join(knownLines, "\n"))
	}
	if len(unknownLines) > 0 {
		fmt.Fprintf(w, "\nFailures:\n%s\n", strings.Join(unknownLines, "\n"))
	}
	// A known entry of a module that ran without that failure is stale.
	ran := map[string]bool{}
	for _, r := range results {
		if r.sawSummary {
			ran[r.module] = true
		}
	}
	var stale []string
	for _, k := range known {
		mod := strings.Split(k.id, ".")
		if len(mod) < 2 || !ran[mod[1]] {
			continue
		}
		hit := false
		for id := range failing {
			if ok, _ := path.Match(k.id, id); ok {
				hit = true
			}
		}
		if !hit {
			stale = append(stale, "  "+k.id)
		}
	}
	if len(stale) > 0 {
		fmt.Fprintf(w, "\nKnown failures that passed (remove them from the list):\n%s\n", strings.Join(stale, "\n"))
	}
}

// upstream is the upstream part of a Debian version: 3.11.2 of
// 3.11.2-6+deb12u8 (no epoch, no revision).
func upstream(v string) string {
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	if i := strings.LastIndex(v, "-"); i > 0 {
		v = v[:i]
	}
	return v
}

// machine describes the host that ran the suite: CPU count and model, OS.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s/%s", goruntime.NumCPU(), model, goruntime.GOOS, goruntime.GOARCH)
}

// copyTree copies the directory src to dst, hard-linking files when it can.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			if os.Link(p, target) == nil {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		}
		return nil // the test suite holds no links or devices worth copying
	})
}
