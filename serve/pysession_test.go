package serve

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// TestSessionGlobals: a session's code runs share one interpreter, so
// globals last from run to run, with each run's stdin, environment,
// working directory and status its own; a run past its deadline stops the
// interpreter (its globals go), and the next starts another.
func TestSessionGlobals(t *testing.T) {
	ts := start(t)
	se := ts.openSession(t, "py")
	runs := "/v1/sessions/" + se.ID + "/runs"
	code := func(req RunRequest, wantStatus, wantOut string) RunResult {
		t.Helper()
		res := ts.runAt(t, runs, req)
		if res.Status != wantStatus || (wantOut != "*" && res.Stdout != wantOut) {
			t.Fatalf("%q: %s (exit %d), stdout %q, stderr %q, reason %q; want %s, %q", req.Code, res.Status, res.ExitCode, res.Stdout, res.Stderr, res.Reason, wantStatus, wantOut)
		}
		return res
	}
	code(RunRequest{Code: "import math\nx = 41\ndef f(): return x + 1"}, StatusOK, "")
	code(RunRequest{Code: "print(f(), math.pi > 3)"}, StatusOK, "42 True\n")
	// An exception: a traceback of the code's own lines, status 1; the
	// globals set before it stay.
	res := code(RunRequest{Code: "y = 1\n1/0"}, StatusError, "")
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "ZeroDivisionError") || !strings.Contains(res.Stderr, `File "<string>", line 2`) || strings.Contains(res.Stderr, "pysession") {
		t.Fatalf("traceback: exit %d %q", res.ExitCode, res.Stderr)
	}
	if res = code(RunRequest{Code: "import sys; print(y); sys.exit(3)"}, StatusError, "1\n"); res.ExitCode != 3 {
		t.Fatalf("sys.exit(3): exit %d", res.ExitCode)
	}
	// Each run's stdin, environment, working directory, files.
	code(RunRequest{Code: "import sys; print(sys.stdin.read().upper())", Stdin: "abc"}, StatusOK, "ABC\n")
	code(RunRequest{Code: "import os; print(os.environ.get('A'), os.getcwd())", Env: map[string]string{"A": "1"}, Workdir: "/tmp"}, StatusOK, "1 /tmp\n")
	code(RunRequest{Code: "import os; print(os.environ.get('A'), os.getcwd(), open('in.txt').read())",
		Files: map[string]FileContent{"in.txt": {Content: ptr("placed")}}}, StatusOK, "None /work placed\n")
	res = code(RunRequest{Code: "open('out.txt', 'w').write(str(x))", Collect: []string{"out.txt"}}, StatusOK, "")
	if len(res.Files) != 1 || res.Files[0].Base64 != base64.StdEncoding.EncodeToString([]byte("41")) {
		t.Fatalf("collected %+v", res.Files)
	}
	// The end line of another run cannot be forged: it is only output.
	code(RunRequest{Code: `import os; os.write(1, b"\0wasmbox-end:00:0\n"); print("after")`}, StatusOK, "\x00wasmbox-end:00:0\nafter\n")
	// A command is a process of its own, on the same files.
	if res = ts.runAt(t, runs, RunRequest{Cmd: []string{"cat", "out.txt"}}); res.Stdout != "41" {
		t.Fatalf("cmd: %+v", res)
	}
	// Past its deadline: stopped, globals gone; the next run starts anew.
	res = code(RunRequest{Code: "while True: pass", Limits: &RequestLimits{TimeoutMS: 300}}, StatusTimeout, "")
	if !strings.Contains(res.Reason, "globals") {
		t.Fatalf("reason %q", res.Reason)
	}
	res = code(RunRequest{Code: "print(x)"}, StatusError, "")
	if !strings.Contains(res.Stderr, "NameError") {
		t.Fatalf("after a restart: %q", res.Stderr)
	}
	code(RunRequest{Code: "z = 5"}, StatusOK, "")
	// The program may end the interpreter itself.
	if res = code(RunRequest{Code: "import os; os._exit(4)"}, StatusError, ""); res.ExitCode != 4 || !strings.Contains(res.Reason, "ended") {
		t.Fatalf("os._exit(4): %+v", res)
	}
	code(RunRequest{Code: "print('z' in globals())"}, StatusOK, "False\n")
	// Deleting the session stops its interpreter.
	begin := time.Now()
	if status, body := ts.call(t, "DELETE", "/v1/sessions/"+se.ID, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Fatalf("delete took %v", d)
	}
}

// TestSessionInterpreterHostile: code that takes the interpreter's control
// stream, or closes its output, harms only its own session's globals: its
// run ends at its deadline, and the next run starts a new interpreter.
func TestSessionInterpreterHostile(t *testing.T) {
	ts := start(t)
	runs := "/v1/sessions/" + ts.openSession(t, "py").ID + "/runs"
	for _, hostile := range []string{
		"import os; os.read(0, 1 << 20)",      // waits on the control stream
		"import os; os.close(1); os.close(2)", // no end line can be written
		"import sys; sys.stdin = None; sys.stdout.close()",
	} {
		res := ts.runAt(t, runs, RunRequest{Code: hostile, Limits: &RequestLimits{TimeoutMS: 1000}})
		if res.Status != StatusTimeout && res.Status != StatusError && res.Status != StatusOK {
			t.Fatalf("%q: %+v", hostile, res)
		}
		if res = ts.runAt(t, runs, RunRequest{Code: "print('next')"}); res.Status != StatusOK || res.Stdout != "next\n" {
			t.Fatalf("the run after %q: %+v", hostile, res)
		}
	}
}

// TestSessionLayerBound: what a session's runs write lasts, so it is
// bounded in all (the server's memory ceiling), not only per run.
func TestSessionLayerBound(t *testing.T) {
	ts := start(t, WithLimits(runtime.Limits{Memory: 96 << 20}))
	runs := "/v1/sessions/" + ts.openSession(t, "py").ID + "/runs"
	write := func(name string) RunResult {
		return ts.runAt(t, runs, RunRequest{Cmd: []string{"python3", "-c", "open('/tmp/" + name + "', 'wb').write(b'x' * (40 << 20))"}})
	}
	for _, name := range []string{"a", "b"} {
		if res := write(name); res.Status != StatusOK {
			t.Fatalf("writing 40 MiB into %s: %+v", name, res)
		}
	}
	if res := write("c"); res.Status == StatusOK {
		t.Fatal("a third 40 MiB file fit in a 96 MiB session")
	}
	if res := ts.runAt(t, runs, RunRequest{Cmd: []string{"rm", "/tmp/a", "/tmp/c"}}); res.Status != StatusOK {
		t.Fatalf("rm: %+v", res)
	}
	if res := write("d"); res.Status != StatusOK {
		t.Fatalf("after freeing: %+v", res)
	}
}

// openSession opens a session of box.
func (ts *testServer) openSession(t *testing.T, box string) Session {
	t.Helper()
	status, body := ts.call(t, "POST", "/v1/sessions", SessionRequest{Box: box})
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("opening a session of %s: %d %s", box, status, body)
	}
	var se Session
	if err := json.Unmarshal(body, &se); err != nil {
		t.Fatal(err)
	}
	return se
}
