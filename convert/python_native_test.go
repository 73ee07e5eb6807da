package convert_test

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
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

const nativePython = "/usr/bin/python3"

// TestPythonAppNative is issue 3's Dockerfile (testdata/dockerfiles/
// python-app: ENV, WORKDIR, COPY of a package and a script, a RUN python
// that writes a file, CMD python app.py): the box prints exactly what the
// host's CPython prints for the same app, with and without stdin. The
// native run gets a copy of the context as its working directory, the
// image's ENV, and the build's RUN executed the same way beforehand; the
// one difference allowed is that directory's host path where the box
// says /app.
func TestPythonAppNative(t *testing.T) {
	if _, err := os.Stat(nativePython); err != nil {
		t.Skipf("no native python to compare with: %v", err)
	}
	const dir = "../testdata/dockerfiles/python-app"
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := build(t, store, dir, convert.WithTags("python-app"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config.Config
	if cfg.WorkingDir != "/app" {
		t.Fatalf("WorkingDir %q", cfg.WorkingDir)
	}
	var runs []string
	for _, h := range res.Config.History {
		if cmd, ok := strings.CutPrefix(h.CreatedBy, "RUN /bin/sh -c "); ok {
			runs = append(runs, cmd)
		}
	}
	if len(runs) != 1 {
		t.Fatalf("RUN steps in the history: %q", runs)
	}

	// The native side: `python` on PATH is the host's CPython.
	bin := t.TempDir()
	if err := os.Symlink(nativePython, filepath.Join(bin, "python")); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + ":/usr/bin:/bin"}
	for _, kv := range cfg.Env {
		if !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	work := filepath.Join(t.TempDir(), "app")
	if err := os.CopyFS(work, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	native := func(stdin []byte, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = work, env
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("native %q: %v\n%s", args, err, errOut.String())
		}
		return strings.ReplaceAll(out.String(), work, "/app"), errOut.String()
	}
	native(nil, "/bin/sh", "-c", runs[0])

	img, err := store.Resolve(res.Descriptor.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	tree, closer, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	for _, tc := range []struct {
		name  string
		stdin []byte
	}{
		{"no-stdin", nil},
		{"stdin", []byte("a line from stdin\nand another\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			cmd := runtime.Cmd{Args: append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...), Env: cfg.Env, Dir: cfg.WorkingDir, Stdout: &out, Stderr: &errOut}
			if tc.stdin != nil {
				cmd.Stdin = bytes.NewReader(tc.stdin)
			}
			if err := rt.Run(context.Background(), runtime.NewOverlay(tree), cmd); err != nil {
				t.Fatalf("box: %v\n%s", err, errOut.String())
			}
			wantOut, wantErr := native(tc.stdin, cmd.Args...)
			if diff := cmp.Diff(wantOut, out.String()); diff != "" {
				t.Errorf("stdout (-native +box):\n%s", diff)
			}
			if diff := cmp.Diff(wantErr, errOut.String()); diff != "" {
				t.Errorf("stderr (-native +box):\n%s", diff)
			}
			if !strings.Contains(out.String(), "stdin: "+strings.TrimSpace(string(tc.stdin))) && tc.stdin != nil {
				t.Errorf("the app did not read stdin:\n%s", out.String())
			}
		})
	}
}

// TestPythonErrorsNative compares what a failing program leaves on stdout
// and stderr, and its exit status, in a box and with the host's CPython:
// tracebacks (with their ^^^ marks), chained exceptions, a syntax error in
// an imported module, python -m, SystemExit. Paths are mapped: the host's
// working directory to /app, its standard library to the official
// images' /usr/local/lib/python3.11; nothing else may differ. (Errno
// numbers and the recursion limit do differ: python_wasi.txtar.)
func TestPythonErrorsNative(t *testing.T) {
	if _, err := os.Stat(nativePython); err != nil {
		t.Skipf("no native python to compare with: %v", err)
	}
	work := filepath.Join(t.TempDir(), "app")
	files := map[string]string{
		"Dockerfile": "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\n",
		"crash.py": `import sys
def inner(d):
    return d["missing"] + 1
def outer():
    return inner({"present": 1})
print("before the crash")
sys.stdout.flush()
outer()
`,
		"chained.py": `import json
def load(text):
    try:
        return json.loads(text)
    except ValueError as err:
        raise RuntimeError(f"bad config: {text!r}") from err
try:
    load("{")
except RuntimeError:
    {}["during handling"]
`,
		"imports_broken.py": "import broken\n",
		"broken.py":         "def f(:\n    pass\n",
		"pkg/__init__.py":   "",
		"pkg/__main__.py":   "from . import work\nwork.run([1, 2, 0])\n",
		"pkg/work.py":       "def run(xs):\n    for x in xs:\n        print(10 // x)\n",
	}
	for name, data := range files {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The box gets its own copy: the native runs write __pycache__ here.
	ctxDir := t.TempDir()
	if err := os.CopyFS(ctxDir, os.DirFS(work)); err != nil {
		t.Fatal(err)
	}
	res, err := build(t, store, ctxDir, convert.WithTags("errors"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := store.Resolve("errors")
	if err != nil {
		t.Fatal(err)
	}
	tree, closer, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	cfg := res.Config.Config

	stdlib, err := exec.Command(nativePython, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))").Output()
	if err != nil {
		t.Fatal(err)
	}
	paths := strings.NewReplacer(work, "/app", strings.TrimSpace(string(stdlib))+"/", "/usr/local/lib/python3.11/")

	type result struct {
		Code           int
		Stdout, Stderr string
	}
	for _, args := range [][]string{
		{"python", "crash.py"},
		{"python", "chained.py"},
		{"python", "imports_broken.py"},
		{"python", "-m", "pkg"},
		{"python", "-c", "raise SystemExit('giving up: no input')"},
		{"python", "-c", "import sys; print('partial'); sys.exit(4)"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			var box result
			err := rt.Run(context.Background(), runtime.NewOverlay(tree), runtime.Cmd{Args: args, Env: cfg.Env, Dir: cfg.WorkingDir, Stdout: &out, Stderr: &errOut})
			var ee *runtime.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			if ee != nil {
				box.Code = ee.ExitCode()
			}
			box.Stdout, box.Stderr = out.String(), errOut.String()

			cmd := exec.Command(nativePython, args[1:]...)
			cmd.Dir, cmd.Env = work, []string{"LANG=C.UTF-8"}
			out.Reset()
			errOut.Reset()
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil && !errors.As(err, new(*exec.ExitError)) {
				t.Fatal(err)
			}
			// The box's stdlib is sourceless (.pyc only, for the base's
			// size: RATIONALE.md): its frames show file and line but no
			// source line. Every other line must match.
			native := result{cmd.ProcessState.ExitCode(), paths.Replace(out.String()), withoutStdlibSource(paths.Replace(errOut.String()))}
			if native.Code == 0 {
				t.Fatalf("the native run succeeded: %+v", native)
			}
			if diff := cmp.Diff(native, box); diff != "" {
				t.Errorf("(-native +box):\n%s", diff)
			}
		})
	}
}

// withoutStdlibSource drops, from a traceback, the source line (and its
// ^^^ marker line) under each frame of a file in the box's stdlib.
func withoutStdlibSource(tb string) string {
	lines := strings.SplitAfter(tb, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		out = append(out, lines[i])
		if strings.HasPrefix(lines[i], `  File "/usr/local/lib/python3.11/`) {
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "    ") {
				i++
				if i+1 < len(lines) && strings.TrimSpace(strings.Trim(lines[i+1], " ^~\n")) == "" && strings.ContainsAny(lines[i+1], "^~") {
					i++
				}
			}
		}
	}
	return strings.Join(out, "")
}
