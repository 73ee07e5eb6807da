package agent_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

const nativePython = "/usr/bin/python3"

type result struct {
	code           int
	stdout, stderr string
}

// TestPythonAgent builds this example as `wasmbox build` does, runs its
// ENTRYPOINT + CMD with a task on stdin as `wasmbox run -i` does, and
// compares what it prints, its exit status and the files it writes with
// the native CPython running the same package on the same input.
func TestPythonAgent(t *testing.T) {
	ctx := context.Background()
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	var log bytes.Buffer
	if _, err := convert.Build(ctx, store, rt, ".", convert.WithTags("python-agent"), convert.WithShimsDir(testutil.ShimsDir(t)),
		convert.WithProgress(func(e convert.Event) { log.Write(e.Output) })); err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	// The RUN's smoke test ran at build time, in the sandbox.
	if !strings.Contains(log.String(), "wrote /tmp/smoke/reconcile-2026-01-01-") {
		t.Errorf("build output does not show the smoke test:\n%s", log.String())
	}
	img, err := store.Resolve("python-agent")
	if err != nil {
		t.Fatal(err)
	}
	tree, closer, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	cfg := img.Config.Config
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)

	inBox := func(ov *runtime.Overlay, args []string, stdin []byte) result {
		t.Helper()
		var out, errOut bytes.Buffer
		err := rt.Run(ctx, ov, runtime.Cmd{Args: args, Env: cfg.Env, Dir: cfg.WorkingDir, Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errOut})
		var ee *runtime.ExitError
		switch {
		case errors.As(err, &ee):
			return result{ee.ExitCode(), out.String(), errOut.String()}
		case err != nil:
			t.Fatalf("running %q: %v", args, err)
		}
		return result{0, out.String(), errOut.String()}
	}
	// native runs argv with the host's CPython in a fresh copy of the
	// build context standing for /app, with the image's environment.
	native := func(stdin []byte) (result, string) {
		t.Helper()
		if _, err := os.Stat(nativePython); err != nil {
			t.Skipf("no native python to compare with: %v", err)
		}
		dir := t.TempDir()
		if err := os.CopyFS(filepath.Join(dir, "agent"), os.DirFS("agent")); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(nativePython, argv[1:]...)
		cmd.Dir = dir
		for _, kv := range cfg.Env {
			if !strings.HasPrefix(kv, "PATH=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Stdin = bytes.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return result{cmd.ProcessState.ExitCode(), out.String(), errOut.String()}, dir
	}

	task, err := os.ReadFile("task.json")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("task", func(t *testing.T) {
		ov := runtime.NewOverlay(tree)
		got := inBox(ov, argv, task)
		want, err := os.ReadFile("want-output")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(result{0, string(want), ""}, got, cmp.AllowUnexported(result{})); diff != "" {
			t.Errorf("box vs want-output (-want +got):\n%s", diff)
		}
		nat, dir := native(task)
		if diff := cmp.Diff(nat, got, cmp.AllowUnexported(result{})); diff != "" {
			t.Errorf("box vs native python (-native +box):\n%s", diff)
		}
		// The result files, read back by another command in the same run's
		// file system, are the native run's byte for byte.
		files, err := os.ReadDir(filepath.Join(dir, "results"))
		if err != nil || len(files) != 2 {
			t.Fatalf("native results: %v %v", files, err)
		}
		for _, f := range files {
			wantData, err := os.ReadFile(filepath.Join(dir, "results", f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			got := inBox(ov, []string{"cat", "results/" + f.Name()}, nil)
			if diff := cmp.Diff(result{0, string(wantData), ""}, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("results/%s (-native +box):\n%s", f.Name(), diff)
			}
		}
	})
	for _, tc := range []struct{ name, stdin string }{
		{"not-json", `{"action": "reconcile", `},
		{"unknown-action", `{"action": "delete", "records": []}`},
		{"bad-as-of", `{"action": "reconcile", "as_of": "31/03/2026"}`},
		{"empty", `{"action": "reconcile", "as_of": "2026-01-01", "records": []}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := inBox(runtime.NewOverlay(tree), argv, []byte(tc.stdin))
			nat, _ := native([]byte(tc.stdin))
			if diff := cmp.Diff(nat, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("box vs native python (-native +box):\n%s", diff)
			}
		})
	}
}
