package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// TestSessions: a session's writable layer lasts across runs and file
// calls until it is deleted; a new run elsewhere sees none of it.
func TestSessions(t *testing.T) {
	ts := start(t)
	status, body := ts.call(t, "POST", "/v1/sessions", SessionRequest{Box: "py", Env: map[string]string{"WHO": "session"}})
	if status != http.StatusCreated {
		t.Fatalf("POST /v1/sessions: %d %s", status, body)
	}
	var se Session
	json.Unmarshal(body, &se)
	if se.ID == "" || se.Box != "py" || !strings.HasPrefix(se.Digest, "sha256:") {
		t.Fatalf("session %+v", se)
	}
	base := "/v1/sessions/" + se.ID
	res := ts.runAt(t, base+"/runs", RunRequest{Code: "import os\nopen('state.txt', 'w').write(os.environ['WHO'] + ' 1')"})
	if res.Status != StatusOK {
		t.Fatalf("first run: %+v", res)
	}
	// A file written by a run, read by the next run and by GET.
	res = ts.runAt(t, base+"/runs", RunRequest{Code: "print(open('/work/state.txt').read())"})
	if res.Stdout != "session 1\n" {
		t.Errorf("second run: %+v", res)
	}
	status, body = ts.call(t, "GET", base+"/files/work/state.txt", nil)
	if status != 200 || string(body) != "session 1" {
		t.Errorf("GET file: %d %q", status, body)
	}
	// A file uploaded, seen by a run; nested directories are made.
	status, body = ts.call(t, "PUT", base+"/files/data/in/x.py?mode=0755", []byte("VALUE = 42\n"))
	if status != http.StatusNoContent {
		t.Fatalf("PUT file: %d %s", status, body)
	}
	res = ts.runAt(t, base+"/runs", RunRequest{Code: "import sys, os; sys.path.insert(0, '/data/in'); import x; print(x.VALUE, oct(os.stat('/data/in/x.py').st_mode & 0o777))"})
	if res.Stdout != "42 0o755\n" {
		t.Errorf("run after PUT: %+v", res)
	}
	// Path escapes and missing files.
	status, body = ts.call(t, "GET", base+"/files/..%2f..%2fetc%2fpasswd", nil)
	wantError(t, status, body, 400, "path_escape")
	status, body = ts.call(t, "PUT", base+"/files/a%2f..%2f..%2fx", []byte("x"))
	wantError(t, status, body, 400, "path_escape")
	status, body = ts.call(t, "GET", base+"/files/work/nothing", nil)
	wantError(t, status, body, 404, "no_such_file")
	status, body = ts.call(t, "POST", base+"/runs", RunRequest{Box: "sh", Cmd: []string{"true"}})
	wantError(t, status, body, 400, "bad_request")
	// A run outside the session sees nothing of it.
	if res := ts.run(t, RunRequest{Box: "py", Code: "import os; print(os.path.exists('/work/state.txt'))"}); res.Stdout != "False\n" {
		t.Errorf("a fresh run sees the session's file: %+v", res)
	}
	status, body = ts.call(t, "GET", base, nil)
	json.Unmarshal(body, &se)
	if status != 200 || se.Runs != 3 {
		t.Errorf("GET session: %d %s", status, body)
	}
	if status, body := ts.call(t, "DELETE", base, nil); status != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", status, body)
	}
	status, body = ts.call(t, "POST", base+"/runs", RunRequest{Code: "print(1)"})
	wantError(t, status, body, 404, "unknown_session")
	status, body = ts.call(t, "DELETE", base, nil)
	wantError(t, status, body, 404, "unknown_session")
}

// TestSessionTTLAndCount: an idle session ends after its TTL; no more
// than the most sessions are open; uploads stay within the memory ceiling.
func TestSessionTTLAndCount(t *testing.T) {
	ts := start(t, WithSessions(300*time.Millisecond, 2), WithLimits(runtime.Limits{Memory: 8 << 20}))
	var ids []string
	for range 2 {
		status, body := ts.call(t, "POST", "/v1/sessions", SessionRequest{Box: "sh"})
		if status != http.StatusCreated {
			t.Fatalf("%d %s", status, body)
		}
		var se Session
		json.Unmarshal(body, &se)
		ids = append(ids, se.ID)
	}
	status, body := ts.call(t, "POST", "/v1/sessions", SessionRequest{Box: "sh"})
	wantError(t, status, body, 429, "too_many_sessions")
	big := make([]byte, 5<<20)
	if status, body := ts.call(t, "PUT", "/v1/sessions/"+ids[1]+"/files/a", big); status != 204 {
		t.Fatalf("PUT 5 MiB: %d %s", status, body)
	}
	status, body = ts.call(t, "PUT", "/v1/sessions/"+ids[1]+"/files/b", big)
	wantError(t, status, body, 413, "too_large")
	status, body = ts.call(t, "POST", "/v1/sessions", SessionRequest{Box: "sh", Network: &NetworkRequest{On: true}})
	wantError(t, status, body, 400, "network_not_granted")
	waitFor(t, "idle sessions end", 5*time.Second, func() bool { return ts.sess.count() == 0 })
	status, body = ts.call(t, "GET", "/v1/sessions/"+ids[0], nil)
	wantError(t, status, body, 404, "unknown_session")
}

// TestEvents: with Accept: text/event-stream the output comes as it is
// written, then the result.
func TestEvents(t *testing.T) {
	ts := start(t)
	req, _ := http.NewRequest("POST", "http://wasmbox/v1/runs", strings.NewReader(`{"box":"sh","cmd":["sh","-c","echo one; echo two >&2; echo three; exit 2"]}`))
	req.Header.Set("Accept", "text/event-stream")
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	var events []string
	var stdout, stderr string
	var res RunResult
	sc := bufio.NewScanner(resp.Body)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
			events = append(events, name)
		case strings.HasPrefix(line, "data: "):
			data := strings.TrimPrefix(line, "data: ")
			var s string
			switch name {
			case "stdout":
				json.Unmarshal([]byte(data), &s)
				stdout += s
			case "stderr":
				json.Unmarshal([]byte(data), &s)
				stderr += s
			case "exit":
				if err := json.Unmarshal([]byte(data), &res); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if stdout != "one\nthree\n" || stderr != "two\n" || res.Status != StatusError || res.ExitCode != 2 || events[len(events)-1] != "exit" {
		t.Errorf("events %v: stdout %q stderr %q result %+v", events, stdout, stderr, res)
	}
}

// TestUnixSocket: the socket is the user's only; a second server on it is
// refused; a stale socket is replaced.
func TestUnixSocket(t *testing.T) {
	ts := start(t)
	st, err := os.Stat(ts.sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %o, want 600", st.Mode().Perm())
	}
	if _, err := ListenUnix(ts.sock); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Errorf("a second listener: %v", err)
	}
	dir, _ := os.MkdirTemp("", "wbs")
	defer os.RemoveAll(dir)
	stale := filepath.Join(dir, "s.sock")
	l, _ := net.Listen("unix", stale)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l, err = ListenUnix(stale)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	l.Close()
}

// TestTCPToken: TCP needs a token; a request without the right one is
// refused 401.
func TestTCPToken(t *testing.T) {
	if _, err := ListenTCP("127.0.0.1:0", ""); err == nil {
		t.Fatal("ListenTCP without a token listened")
	}
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), testRT, storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Serve(context.Background(), open); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("Serve on TCP without a token: %v", err)
	}
	l, err := ListenTCP("127.0.0.1:0", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	ts := serveOn(t, l, "", WithToken("s3cret"))
	ts.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", l.Addr().String())
		},
	}}
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"none", nil, 401},
		{"wrong", []string{"Authorization", "Bearer nope"}, 401},
		{"not bearer", []string{"Authorization", "Basic czNjcmV0"}, 401},
		{"right", []string{"Authorization", "Bearer s3cret"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := ts.call(t, "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}}, tc.header...)
			if status != tc.status {
				t.Errorf("got %d %s, want %d", status, body, tc.status)
			}
			status, _ = ts.call(t, "GET", "/metrics", nil, tc.header...)
			if status != tc.status {
				t.Errorf("metrics: got %d, want %d", status, tc.status)
			}
		})
	}
}

// TestMetrics: runs by status, rejections and the latency histogram, in
// Prometheus's text format.
func TestMetrics(t *testing.T) {
	ts := start(t)
	ts.run(t, RunRequest{Box: "sh", Cmd: []string{"true"}})
	ts.run(t, RunRequest{Box: "sh", Cmd: []string{"false"}})
	ts.call(t, "POST", "/v1/runs", `{`)
	status, body := ts.call(t, "GET", "/metrics", nil)
	if status != 200 {
		t.Fatal(status)
	}
	text := string(body)
	for _, want := range []string{
		`wasmbox_runs_total{status="ok"} 1`,
		`wasmbox_runs_total{status="error"} 1`,
		`wasmbox_run_failures_total{status="error"} 1`,
		`wasmbox_requests_rejected_total{code="bad_json"} 1`,
		`wasmbox_run_duration_seconds_bucket{le="+Inf"} 2`,
		`wasmbox_run_duration_seconds_count 2`,
		"# TYPE wasmbox_run_duration_seconds histogram",
		"wasmbox_runs_in_flight 0",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("no line %q in\n%s", want, text)
		}
	}
	// Every sample line is NAME{LABELS} VALUE or NAME VALUE.
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "# ") {
			continue
		}
		if f := strings.Fields(line); len(f) != 2 {
			t.Errorf("malformed sample line %q", line)
		}
	}
}

// TestShutdownDrains: stopping the server lets a run in progress finish
// and answer.
func TestShutdownDrains(t *testing.T) {
	ts := start(t)
	type answer struct {
		status int
		body   []byte
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		s, b, err := ts.do(context.Background(), "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"sh", "-c", "sleep 1; echo done"}})
		got <- answer{s, b, err}
	}()
	waitFor(t, "the run started", 5*time.Second, func() bool { return ts.lim.running() == 1 })
	ts.stop()
	a := <-got
	if a.err != nil || a.status != 200 || !strings.Contains(string(a.body), `"stdout":"done\n"`) {
		t.Errorf("the run in progress at shutdown: %d %s %v", a.status, a.body, a.err)
	}
	if _, _, err := ts.do(context.Background(), "GET", "/metrics", nil); err == nil {
		t.Error("the server still answers after shutdown")
	}
}

// TestCurl: a real client, curl, over the Unix socket.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	ts := start(t)
	out, err := exec.Command(curl, "-sS", "--unix-socket", ts.sock, "-H", "Content-Type: application/json",
		"-d", `{"box":"py","code":"print(sum(range(1000)))"}`, "http://localhost/v1/runs").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	var res RunResult
	if err := json.Unmarshal(out, &res); err != nil || res.Status != StatusOK || res.Stdout != "499500\n" {
		t.Fatalf("curl got %s (%v)", out, err)
	}
	out, err = exec.Command(curl, "-sSN", "--unix-socket", ts.sock, "-H", "Accept: text/event-stream",
		"-d", `{"box":"sh","cmd":["echo","streamed"]}`, "http://localhost/v1/runs").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "event: stdout\ndata: \"streamed\\n\"\n\n") || !strings.Contains(string(out), "event: exit\n") {
		t.Fatalf("curl events: %v\n%s", err, out)
	}
	out, _ = exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", ts.sock,
		"-d", `{"box":`, "http://localhost/v1/runs").CombinedOutput()
	if string(out) != "400" {
		t.Errorf("curl with malformed JSON: %s", out)
	}
}

// TestSessionDeleteMidRun: deleting a session ends its run in progress and
// answers a run waiting for its turn 404.
func TestSessionDeleteMidRun(t *testing.T) {
	ts := start(t)
	status, body := ts.call(t, "POST", "/v1/sessions", SessionRequest{Box: "sh"})
	if status != http.StatusCreated {
		t.Fatalf("%d %s", status, body)
	}
	var se Session
	json.Unmarshal(body, &se)
	type answer struct {
		status int
		body   []byte
	}
	first, second := make(chan answer, 1), make(chan answer, 1)
	runs := "/v1/sessions/" + se.ID + "/runs"
	go func() {
		s, b, _ := ts.do(context.Background(), "POST", runs, RunRequest{Cmd: []string{"sleep", "30"}})
		first <- answer{s, b}
	}()
	waitFor(t, "the first run started", 10*time.Second, func() bool { return ts.lim.running() == 1 })
	go func() {
		s, b, _ := ts.do(context.Background(), "POST", runs, RunRequest{Cmd: []string{"true"}})
		second <- answer{s, b}
	}()
	time.Sleep(200 * time.Millisecond) // the second waits for its turn
	if status, body := ts.call(t, "DELETE", "/v1/sessions/"+se.ID, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	select {
	case a := <-first:
		var res RunResult
		json.Unmarshal(a.body, &res)
		if a.status != 200 || res.Status != StatusKilled {
			t.Errorf("the run in progress: %d %s", a.status, a.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run in progress goes on after DELETE")
	}
	a := <-second
	wantError(t, a.status, a.body, 404, "unknown_session")
}
