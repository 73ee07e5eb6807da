package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

// pythonBox builds a python box whose Dockerfile ends with extra, and
// opens it.
func pythonBox(t *testing.T, rt *runtime.Runtime, extra string) *runtime.Box {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a python box")
	}
	return buildBox(t, rt, map[string][]byte{"Dockerfile": []byte("FROM python:3.11-slim\nWORKDIR /app\n" + extra)})
}

// buildBox builds a box from a build context holding files (a
// Dockerfile among them) into a new store, and opens it.
func buildBox(t *testing.T, rt *runtime.Runtime, files map[string][]byte) *runtime.Box {
	t.Helper()
	tmp := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	store, err := oci.OpenStore(filepath.Join(tmp, "home"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := convert.Build(context.Background(), store, rt, tmp, convert.WithTags("box"), convert.WithShimsDir(testutil.ShimsDir(t))); err != nil {
		t.Fatal(err)
	}
	box, err := runtime.OpenBox(store.Dir(), "box")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	return box
}

type pyRun struct {
	out   string
	err   error
	stats runtime.Stats
}

func runPy(rt *runtime.Runtime, box *runtime.Box, ov *runtime.Overlay, cmd runtime.Cmd) pyRun {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	var res pyRun
	cmd.Stats = &res.stats
	if ov == nil {
		res.err = rt.RunBox(context.Background(), box, cmd)
	} else {
		// As RunBox completes cmd, on a layer of the test's.
		cmd.Env = append(append([]string{}, box.Config().Env...), cmd.Env...)
		if cmd.Dir == "" {
			cmd.Dir = box.Config().WorkingDir
		}
		res.err = rt.Run(context.Background(), ov, cmd)
	}
	res.out = out.String()
	return res
}

func TestSnapshotRuns(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	box := pythonBox(t, rt, "ENV LANG=C.UTF-8\n")
	if err := rt.SnapshotBox(ctx, box); err != nil {
		t.Fatal(err)
	}
	py := func(t *testing.T, ov *runtime.Overlay, cmd runtime.Cmd, want string, snapshots int) pyRun {
		t.Helper()
		r := runPy(rt, box, ov, cmd)
		if r.err != nil || (want != "" && r.out != want) {
			t.Fatalf("%q: %v, output %q, want %q", cmd.Args, r.err, r.out, want)
		}
		if r.stats.Snapshots != snapshots {
			t.Fatalf("%q: %d processes started from a snapshot, want %d", cmd.Args, r.stats.Snapshots, snapshots)
		}
		return r
	}
	t.Run("output", func(t *testing.T) {
		for _, argv0 := range []string{"python3", "python", "/usr/local/bin/python3"} {
			py(t, nil, runtime.Cmd{Args: []string{argv0, "-c", "print(sum(range(1000)))"}}, "499500\n", 1)
		}
		// Imported in the snapshot; sys.executable as a fresh start says.
		py(t, nil, runtime.Cmd{Args: []string{"python3", "-c", "import sys; print('json' in sys.modules, sys.executable)"}}, "True /usr/local/bin/python3\n", 1)
	})
	t.Run("per-run state", func(t *testing.T) {
		prog := "import os, sys, random; print(sys.argv[1:], os.environ['RUN'], os.getcwd(), random.random(), os.urandom(8).hex())"
		var seen []string
		for i := 0; i < 2; i++ {
			r := py(t, nil, runtime.Cmd{Args: []string{"python3", "-c", prog, "a", "b c"}, Env: []string{fmt.Sprintf("RUN=r%d", i)}, Dir: "/tmp"}, "", 1)
			want := fmt.Sprintf("['a', 'b c'] r%d /tmp ", i)
			if !strings.HasPrefix(r.out, want) {
				t.Fatalf("run %d: %q, want it to start %q", i, r.out, want)
			}
			seen = append(seen, strings.TrimPrefix(r.out, want))
		}
		if seen[0] == seen[1] {
			t.Fatalf("two runs drew the same random numbers: %q", seen[0])
		}
	})
	t.Run("clean state", func(t *testing.T) {
		// One run changes a module of the snapshot, and writes a file.
		py(t, nil, runtime.Cmd{Args: []string{"python3", "-c", "import json, sys; json.mark = 1; sys.path.append('/x'); open('/tmp/mark', 'w').write('x')"}}, "", 1)
		py(t, nil, runtime.Cmd{Args: []string{"python3", "-c", "import json, os, sys; print(hasattr(json, 'mark'), '/x' in sys.path, os.path.exists('/tmp/mark'))"}}, "False False False\n", 1)
	})
	t.Run("exit status and errors", func(t *testing.T) {
		r := runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", "import sys; print('x'); sys.exit(7)"}})
		var ee *runtime.ExitError
		if !errors.As(r.err, &ee) || ee.Code != 7 || r.out != "x\n" || r.stats.Snapshots != 1 {
			t.Fatalf("%v, %q, %d snapshots", r.err, r.out, r.stats.Snapshots)
		}
		r = runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", "1/0"}})
		if !errors.As(r.err, &ee) || ee.Code != 1 || !strings.Contains(r.out, "ZeroDivisionError") {
			t.Fatalf("%v, %q", r.err, r.out)
		}
	})
	t.Run("stdin and scripts", func(t *testing.T) {
		r := runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-"}, Stdin: strings.NewReader("print(6*7)\n")})
		if r.err != nil || r.out != "42\n" || r.stats.Snapshots != 1 {
			t.Fatalf("%v, %q, %d snapshots", r.err, r.out, r.stats.Snapshots)
		}
		ov := box.Overlay()
		if err := ov.WriteFile("/app/s.py", []byte("#!/usr/local/bin/python3\nimport sys\nprint(sys.argv)\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		py(t, ov, runtime.Cmd{Args: []string{"/app/s.py", "z"}}, "['/app/s.py', 'z']\n", 1)
		// A child of a shell starts from the snapshot too.
		py(t, nil, runtime.Cmd{Args: []string{"sh", "-c", "python3 -c 'print(1)'; python3 -c 'print(2)'"}}, "1\n2\n", 2)
	})
	t.Run("fresh starts", func(t *testing.T) {
		// What shapes initialization differently: a fresh start.
		py(t, nil, runtime.Cmd{Args: []string{"python3", "-c", "import sys; print(sys.flags.hash_randomization)"}, Env: []string{"PYTHONHASHSEED=0"}}, "0\n", 0)
		py(t, nil, runtime.Cmd{Args: []string{"python3", "-I", "-c", "print(3)"}}, "3\n", 0)
		py(t, nil, runtime.Cmd{Args: []string{"python3", "-c", "print(4)"}, User: "nobody"}, "4\n", 0)
		// Output to a regular file (seekable), or to a character device
		// (a terminal, /dev/null: isatty), is not what the snapshot saw.
		f, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var st runtime.Stats
		if err := rt.RunBox(ctx, box, runtime.Cmd{Args: []string{"python3", "-c", "import sys; print(sys.stdout.seekable())"}, Stdout: f, Stats: &st}); err != nil || st.Snapshots != 0 {
			t.Fatalf("stdout to a file: %v, %d snapshots", err, st.Snapshots)
		}
		if b, _ := os.ReadFile(f.Name()); string(b) != "True\n" {
			t.Fatalf("stdout to a file: %q", b)
		}
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer devnull.Close()
		if err := rt.RunBox(ctx, box, runtime.Cmd{Args: []string{"python3", "-c", "pass"}, Stderr: devnull, Stats: &st}); err != nil || st.Snapshots != 0 {
			t.Fatalf("stderr to /dev/null: %v, %d snapshots", err, st.Snapshots)
		}
		// A file initialization reads, changed in the run's layer.
		ov := box.Overlay()
		if err := ov.WriteFile("/usr/local/lib/python3.11/site-packages/sitecustomize.py", []byte("print('custom')\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		py(t, ov, runtime.Cmd{Args: []string{"python3", "-c", "print(5)"}}, "custom\n5\n", 0)
		// A file it does not read changes nothing.
		ov = box.Overlay()
		if err := ov.WriteFile("/tmp/a.txt", []byte("a\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		py(t, ov, runtime.Cmd{Args: []string{"python3", "-c", "print(open('/tmp/a.txt').read(), end='')"}}, "a\n", 1)
		// A mount where initialization looked, and one where it did not.
		host := t.TempDir()
		os.WriteFile(filepath.Join(host, "sitecustomize.py"), []byte("print('mounted')\n"), 0o644)
		hd, err := runtime.OpenHostDir(host)
		if err != nil {
			t.Fatal(err)
		}
		defer hd.Close()
		py(t, nil, runtime.Cmd{Args: []string{"python3", "-c", "print(6)"}, Mounts: []runtime.Mount{{Target: "/usr/local/lib/python3.11/site-packages", Volume: hd}}}, "mounted\n6\n", 0)
		py(t, nil, runtime.Cmd{Args: []string{"python3", "-c", "print(7)"}, Mounts: []runtime.Mount{{Target: "/data", Volume: hd}}}, "7\n", 1)
	})
	t.Run("memory limit", func(t *testing.T) {
		r := runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", "print(1)"}, Limits: runtime.Limits{Memory: 4 << 20}})
		var ee *runtime.ExitError
		if !errors.As(r.err, &ee) || ee.Cause != runtime.CauseMemoryLimit {
			t.Fatalf("a 4 MiB limit: %v, %q", r.err, r.out)
		}
	})
}

// TestSnapshotStore: snapshots kept on disk serve a new Runtime; a
// truncated or changed one is never used, and SnapshotBox takes it again.
func TestSnapshotStore(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	box := pythonBox(t, rt, "ENV STORE_TEST=1\n")
	if err := rt.SnapshotBox(ctx, box); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(compileCache, "snapshots")
	run := func(want int) {
		t.Helper()
		rt2, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
		if err != nil {
			t.Fatal(err)
		}
		defer rt2.Close(ctx)
		r := runPy(rt2, box, nil, runtime.Cmd{Args: []string{"python3", "-c", "print(8)"}})
		if r.err != nil || r.out != "8\n" || r.stats.Snapshots != want {
			t.Fatalf("%v, %q, %d snapshots, want %d", r.err, r.out, r.stats.Snapshots, want)
		}
	}
	run(1)
	mems, _ := filepath.Glob(filepath.Join(dir, "memory-*.gz"))
	indexes, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(mems) == 0 || len(indexes) == 0 {
		t.Fatalf("%d memories, %d indexes on disk", len(mems), len(indexes))
	}
	damage := map[string]func(p string) error{
		"truncated": func(p string) error { return os.Truncate(p, 100) },
		"changed": func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x40
			return os.WriteFile(p, b, 0o644)
		},
	}
	for _, what := range []string{"memory", "index"} {
		for how, f := range damage {
			t.Run(what+" "+how, func(t *testing.T) {
				files := mems
				if what == "index" {
					files = indexes
				}
				for _, p := range files {
					if err := f(p); err != nil {
						t.Fatal(err)
					}
				}
				run(0) // never used: a fresh start
				rt3, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
				if err != nil {
					t.Fatal(err)
				}
				defer rt3.Close(ctx)
				if err := rt3.SnapshotBox(ctx, box); err != nil {
					t.Fatal(err)
				}
				run(1) // taken again
				mems, _ = filepath.Glob(filepath.Join(dir, "memory-*.gz"))
				indexes, _ = filepath.Glob(filepath.Join(dir, "*.json"))
			})
		}
	}
}

// BenchmarkSnapshotRun: the clean-state snippet in-process, from
// the snapshot and from _start, on plain and on interruptible code.
func BenchmarkSnapshotRun(b *testing.B) {
	ctx := context.Background()
	for _, interruptible := range []bool{false, true} {
		rt, err := runtime.New(ctx, runtime.NewConfig().WithInterruptible(interruptible).WithCompilationCacheDir(compileCache))
		if err != nil {
			b.Fatal(err)
		}
		defer rt.Close(ctx)
		t := &testing.T{}
		box := pythonBox(t, rt, "")
		if err := rt.WarmBox(ctx, box); err != nil {
			b.Fatal(err)
		}
		for _, fresh := range []bool{false, true} {
			name := fmt.Sprintf("interruptible=%v/snapshot=%v", interruptible, !fresh)
			b.Run(name, func(b *testing.B) {
				var env []string
				if fresh {
					env = []string{"PYTHONHASHSEED=0"} // shapes initialization: a fresh start
				}
				for i := 0; i < b.N; i++ {
					var out bytes.Buffer
					var st runtime.Stats
					err := rt.RunBox(ctx, box, runtime.Cmd{Args: []string{"python3", "-c", "print(sum(range(1000)))"}, Env: env, Stdout: &out, Stats: &st})
					if err != nil || out.String() != "499500\n" || (st.Snapshots == 1) == fresh {
						b.Fatalf("%v %q %d", err, out.String(), st.Snapshots)
					}
				}
			})
		}
	}
}
