package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// TestRunStatuses: how each way a run ends shows in the answer, under the
// server's ceilings (hostile snippets included: an infinite loop, a
// memory hog, a fork bomb, a flood of output).
func TestRunStatuses(t *testing.T) {
	ts := start(t, WithTimeout(5*time.Second), WithLimits(runtime.Limits{Memory: 256 << 20, Processes: 16}))
	for _, tc := range []struct {
		name       string
		req        RunRequest
		status     string
		code       int
		reason     string
		maxWall    time.Duration
		stdout     string
		outDropped int64
	}{
		{name: "exit status", req: RunRequest{Box: "py", Code: "import sys; sys.exit(3)"}, status: StatusError, code: 3},
		{name: "exception", req: RunRequest{Box: "py", Code: "raise ValueError('no')"}, status: StatusError, code: 1},
		{name: "not found", req: RunRequest{Box: "sh", Cmd: []string{"no-such-command"}}, status: StatusError, code: 127},
		{name: "infinite loop", req: RunRequest{Box: "py", Code: "while True: pass", Limits: &RequestLimits{TimeoutMS: 500}},
			status: StatusTimeout, code: 137, reason: "time limit", maxWall: 3 * time.Second},
		{name: "timeout above the ceiling is clamped", req: RunRequest{Box: "sh", Cmd: []string{"sleep", "60"}, Limits: &RequestLimits{TimeoutMS: 3600_000}},
			status: StatusTimeout, code: 137, maxWall: 7 * time.Second},
		{name: "memory hog", req: RunRequest{Box: "py", Code: "x = bytearray(200 << 20)", Limits: &RequestLimits{Memory: 64 << 20}},
			status: StatusOutOfMemory, code: 137, reason: "memory limit"},
		{name: "memory above the ceiling is clamped", req: RunRequest{Box: "py", Code: "x = bytearray(400 << 20)", Limits: &RequestLimits{Memory: 4 << 30}},
			status: StatusOutOfMemory, code: 137, reason: "memory limit of 256"},
		{name: "fork bomb", req: RunRequest{Box: "sh", Cmd: []string{"sh", "-c", "while :; do sh -c 'sleep 10' & done"}, Limits: &RequestLimits{TimeoutMS: 4000}},
			status: StatusKilled, code: 137, reason: "process limit of 16"},
		{name: "output flood", req: RunRequest{Box: "py", Code: "import sys\nfor i in range(100000): sys.stdout.write('x' * 100)", Limits: &RequestLimits{OutputBytes: 1000}},
			status: StatusOK, stdout: strings.Repeat("x", 1000), outDropped: 100000*100 - 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := ts.run(t, tc.req)
			wall := time.Since(start)
			if res.Status != tc.status || res.ExitCode != tc.code || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("got status %s, exit %d, reason %q; want %s, %d, %q\nstderr: %.2000s", res.Status, res.ExitCode, res.Reason, tc.status, tc.code, tc.reason, res.Stderr)
			}
			if tc.maxWall > 0 && wall > tc.maxWall {
				t.Errorf("took %s, want at most %s", wall, tc.maxWall)
			}
			if tc.stdout != "" && res.Stdout != tc.stdout {
				t.Errorf("stdout %.100q (%d bytes), want %d bytes", res.Stdout, len(res.Stdout), len(tc.stdout))
			}
			if res.StdoutDropped != tc.outDropped {
				t.Errorf("stdout_dropped %d, want %d", res.StdoutDropped, tc.outDropped)
			}
		})
	}
	// The server is still there.
	if res := ts.run(t, RunRequest{Box: "sh", Cmd: []string{"echo", "alive"}}); res.Stdout != "alive\n" {
		t.Errorf("after the hostile runs: %+v", res)
	}
}

// TestBadInput: each bad request has its status and code, and the server
// keeps serving.
func TestBadInput(t *testing.T) {
	ts := start(t, WithMaxBody(64<<10))
	hostFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(hostFile, []byte("host secret"), 0o600)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"malformed JSON", "POST", "/v1/runs", `{"box": "py", "code": `, 400, "bad_json"},
		{"not an object", "POST", "/v1/runs", `[1, 2]`, 400, "bad_json"},
		{"unknown field", "POST", "/v1/runs", `{"box": "py", "cod": "print(1)"}`, 400, "bad_json"},
		{"two values", "POST", "/v1/runs", `{"box": "py"} {"box": "py"}`, 400, "bad_json"},
		{"no box", "POST", "/v1/runs", RunRequest{Code: "print(1)"}, 400, "bad_request"},
		{"unknown box", "POST", "/v1/runs", RunRequest{Box: "no-such-box", Code: "print(1)"}, 404, "unknown_box"},
		{"oversized body", "POST", "/v1/runs", RunRequest{Box: "sh", Stdin: strings.Repeat("x", 65<<10)}, 413, "too_large"},
		{"network", "POST", "/v1/runs", RunRequest{Box: "py", Code: "print(1)", Network: &NetworkRequest{On: true}}, 400, "network_not_granted"},
		{"code and cmd", "POST", "/v1/runs", RunRequest{Box: "py", Code: "print(1)", Cmd: []string{"true"}}, 400, "bad_request"},
		{"relative workdir", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Workdir: "work"}, 400, "bad_request"},
		{"negative limit", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Limits: &RequestLimits{TimeoutMS: -1}}, 400, "bad_request"},
		{"env name with =", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Env: map[string]string{"A=B": "c"}}, 400, "bad_request"},
		{"file with ..", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Files: map[string]FileContent{"../../etc/x": {Content: ptr("x")}}}, 400, "path_escape"},
		{"absolute file with ..", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Files: map[string]FileContent{"/work/../../x": {Content: ptr("x")}}}, 400, "path_escape"},
		{"collect with ..", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Collect: []string{"../" + hostFile}}, 400, "path_escape"},
		{"collect glob with ..", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Collect: []string{"/work/*/../../*"}}, 400, "path_escape"},
		{"bad glob", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Collect: []string{"/work/["}}, 400, "bad_request"},
		{"file without content", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Files: map[string]FileContent{"a": {}}}, 400, "bad_request"},
		{"bad base64", "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}, Files: map[string]FileContent{"a": {Base64: ptr("!!")}}}, 400, "bad_request"},
		{"unknown route", "GET", "/v1/nothing", nil, 404, "not_found"},
		{"unknown session", "POST", "/v1/sessions/abc/runs", RunRequest{Code: "print(1)"}, 404, "unknown_session"},
		// The mux cleans the path first: no route is left.
		{"session file with ..", "GET", "/v1/sessions/abc/files/a/../../x", nil, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := ts.call(t, tc.method, tc.path, tc.body)
			wantError(t, status, body, tc.status, tc.code)
		})
	}
	// An absolute host path names a file of the box, never the host's.
	res := ts.run(t, RunRequest{Box: "sh", Cmd: []string{"true"}, Collect: []string{hostFile}})
	if len(res.Files) != 1 || res.Files[0].Base64 != "" || res.Files[0].Error == "" {
		t.Errorf("collecting the host path %s: %+v", hostFile, res.Files)
	}
	if res := ts.run(t, RunRequest{Box: "sh", Cmd: []string{"echo", "alive"}}); res.Stdout != "alive\n" {
		t.Errorf("after the bad input: %+v", res)
	}
}

// TestHugeStdin: stdin up to the body limit reaches the box whole.
func TestHugeStdin(t *testing.T) {
	ts := start(t, WithMaxBody(8<<20))
	in := strings.Repeat("0123456789abcdef", 6<<20/16)
	res := ts.run(t, RunRequest{Box: "sh", Cmd: []string{"wc", "-c"}, Stdin: in})
	if res.Status != StatusOK || strings.TrimSpace(res.Stdout) != fmt.Sprint(len(in)) {
		t.Fatalf("got %+v", res)
	}
}

// TestClientDisconnect: a client that goes away mid-run ends the run (its
// context is cancelled), long before the run's own deadline.
func TestClientDisconnect(t *testing.T) {
	ended := make(chan error, 1)
	ts := start(t, WithTimeout(60*time.Second), withRunEnd(func(err error) { ended <- err }))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := json.Marshal(RunRequest{Box: "py", Code: "import time\nprint('started', flush=True)\nwhile True: pass"})
	hreq, _ := http.NewRequestWithContext(ctx, "POST", "http://wasmbox/v1/runs", strings.NewReader(string(req)))
	hreq.Header.Set("Accept", "text/event-stream")
	resp, err := ts.client.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var got string
	for !strings.Contains(got, "started") {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("reading the events: %v (%q)", err, got)
		}
		got += string(buf[:n])
	}
	began := time.Now()
	cancel()
	resp.Body.Close()
	select {
	case err := <-ended:
		var ee *runtime.ExitError
		if !errors.As(err, &ee) || ee.Cause != runtime.CauseCancelled {
			t.Errorf("the run ended with %v, want a cancelled run", err)
		}
		t.Logf("the run ended %s after the client left", time.Since(began))
	case <-time.After(10 * time.Second):
		t.Fatal("the run goes on 10s after its client left")
	}
	waitFor(t, "no run in flight", 5*time.Second, func() bool { return ts.lim.running() == 0 })
}

// TestConcurrentFlood: 1,000 requests at once on a server of 2 slots and a
// queue of 16: each is answered 200 or 429 (with Retry-After), none
// crashes the server, and it answers afterwards.
func TestConcurrentFlood(t *testing.T) {
	ts := start(t, WithConcurrency(2), WithQueue(16))
	ts.client.Transport.(*http.Transport).MaxIdleConnsPerHost = 1000
	const n = 1000
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[int]int{}
		errs   []error
	)
	body, _ := json.Marshal(RunRequest{Box: "sh", Cmd: []string{"echo", "hi"}})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, b, err := ts.do(context.Background(), "POST", "/v1/runs", body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			counts[status]++
			if status == http.StatusTooManyRequests {
				var eb ErrorBody
				if json.Unmarshal(b, &eb) != nil || eb.Error.Code != "queue_full" {
					errs = append(errs, fmt.Errorf("429 body %s", b))
				}
			} else if status == http.StatusOK {
				var res RunResult
				if json.Unmarshal(b, &res) != nil || res.Stdout != "hi\n" {
					errs = append(errs, fmt.Errorf("200 body %s", b))
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("answers: %v", counts)
	if len(errs) > 0 {
		t.Fatalf("%d errors, the first: %v", len(errs), errs[0])
	}
	if counts[200]+counts[429] != n || counts[200] < 18 {
		t.Errorf("answers %v: want only 200 and 429, at least 18 runs", counts)
	}
	if res := ts.run(t, RunRequest{Box: "sh", Cmd: []string{"echo", "alive"}}); res.Stdout != "alive\n" {
		t.Errorf("after the flood: %+v", res)
	}
}

// TestQueueFullRetryAfter: with every slot taken and no queue, a request
// is answered 429 with Retry-After at once.
func TestQueueFullRetryAfter(t *testing.T) {
	ts := start(t, WithConcurrency(1), WithQueue(0))
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts.do(context.Background(), "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"sleep", "2"}})
	}()
	waitFor(t, "the first run holds the slot", 5*time.Second, func() bool { return ts.lim.running() == 1 })
	req, _ := http.NewRequest("POST", "http://wasmbox/v1/runs", strings.NewReader(`{"box":"sh","cmd":["true"]}`))
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("got %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	<-done
}

// TestQueueTimeout: a request waits for a slot at most the run timeout.
func TestQueueTimeout(t *testing.T) {
	ts := start(t, WithConcurrency(1), WithQueue(4), WithTimeout(500*time.Millisecond))
	if err := ts.lim.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ts.lim.release()
	status, body := ts.call(t, "POST", "/v1/runs", RunRequest{Box: "sh", Cmd: []string{"true"}})
	wantError(t, status, body, 429, "queue_timeout")
}

// TestOperatorMounts: runs see the operator's mounts as granted (read-only
// here), and a request can neither write into one nor collect from one
// through files and collect, nor add a mount (no such field).
func TestOperatorMounts(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "shared.txt"), []byte("granted\n"), 0o644)
	hd, err := runtime.OpenHostDir(host)
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	ts := start(t, WithMounts(runtime.Mount{Target: "/data", Volume: hd, ReadOnly: true}))
	res := ts.run(t, RunRequest{Box: "sh", Cmd: []string{"sh", "-c", "cat /data/shared.txt; echo x > /data/new.txt"}})
	if res.Stdout != "granted\n" || res.Status != StatusError {
		t.Errorf("a run on the read-only mount: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(host, "new.txt")); err == nil {
		t.Error("the run wrote into the read-only mount")
	}
	for _, req := range []RunRequest{
		{Box: "sh", Cmd: []string{"true"}, Files: map[string]FileContent{"/data/new.txt": {Content: ptr("x")}}},
		{Box: "sh", Cmd: []string{"true"}, Collect: []string{"/data/shared.txt"}},
		{Box: "sh", Cmd: []string{"true"}, Collect: []string{"/data"}},
		{Box: "sh", Cmd: []string{"true"}, Workdir: "/data", Files: map[string]FileContent{"new.txt": {Content: ptr("x")}}},
	} {
		status, body := ts.call(t, "POST", "/v1/runs", req)
		wantError(t, status, body, 400, "path_escape")
	}
	// A glob never reaches into the mount either.
	res = ts.run(t, RunRequest{Box: "sh", Cmd: []string{"true"}, Collect: []string{"/*/shared.txt"}})
	if len(res.Files) != 0 {
		t.Errorf("a glob collected from the mount: %+v", res.Files)
	}
	status, body := ts.call(t, "POST", "/v1/runs", `{"box":"sh","cmd":["true"],"mounts":[{"target":"/host","source":"/"}]}`)
	wantError(t, status, body, 400, "bad_json")
	if _, err := os.Stat(filepath.Join(host, "new.txt")); err == nil {
		t.Error("a request wrote into the mount")
	}
}
