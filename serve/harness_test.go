package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

// The tests' boxes, built once into one store as `wasmbox build` would:
// "py" on the python base, "sh" on the shell base; testRT is the warm
// runtime every test server shares (interruptible, as `wasmbox serve`'s).
var (
	storeDir string
	testRT   *runtime.Runtime
	setupErr error
)

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "wasmbox-serve-test-")
	if err != nil {
		panic(err)
	}
	setupErr = setup(tmp)
	code := m.Run()
	if testRT != nil {
		testRT.Close(context.Background())
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

func setup(tmp string) error {
	ctx := context.Background()
	shimsDir, err := testutil.Shims()
	if err != nil {
		return err
	}
	store, err := oci.OpenStore(filepath.Join(tmp, "oci"))
	if err != nil {
		return err
	}
	storeDir = store.Dir()
	testRT, err = runtime.New(ctx, runtime.NewConfig().WithInterruptible(true).WithCompilationCacheDir(filepath.Join(tmp, "cache", "compiled")))
	if err != nil {
		return err
	}
	for name, df := range map[string]string{
		"py": "FROM python:3.11-slim\nWORKDIR /work\nENV PYTHONUNBUFFERED=1\n",
		"sh": "FROM alpine:3.20\nWORKDIR /work\n",
	} {
		dir := filepath.Join(tmp, "ctx-"+name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			return err
		}
		if _, err := convert.Build(ctx, store, testRT, dir, convert.WithTags(name), convert.WithShimsDir(shimsDir)); err != nil {
			return fmt.Errorf("building %s: %w", name, err)
		}
	}
	return nil
}

// testServer is a Server answering on a real Unix socket.
type testServer struct {
	*Server
	sock   string
	client *http.Client
	stop   func()
}

// start starts a Server with opts on a new Unix socket; it stops (and
// drains) at the end of the test.
func start(t *testing.T, opts ...Option) *testServer {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	dir, err := os.MkdirTemp("", "wbs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "serve.sock")
	l, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, l, sock, opts...)
}

func serveOn(t *testing.T, l net.Listener, sock string, opts ...Option) *testServer {
	t.Helper()
	s, err := New(context.Background(), testRT, storeDir, opts...)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	ts := &testServer{Server: s, sock: sock}
	stopped := false
	ts.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		s.Close()
	}
	t.Cleanup(ts.stop)
	if sock != "" {
		ts.client = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			MaxIdleConnsPerHost: 64,
		}}
	}
	return ts
}

// call sends a request with a JSON body (or raw bytes) and returns the
// status and the body.
func (ts *testServer) call(t *testing.T, method, path string, body any, header ...string) (int, []byte) {
	t.Helper()
	status, b, err := ts.do(context.Background(), method, path, body, header...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, b
}

func (ts *testServer) do(ctx context.Context, method, path string, body any, header ...string) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://wasmbox"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// run posts req to /v1/runs and decodes a 200 answer.
func (ts *testServer) run(t *testing.T, req RunRequest) RunResult {
	t.Helper()
	return ts.runAt(t, "/v1/runs", req)
}

func (ts *testServer) runAt(t *testing.T, path string, req RunRequest) RunResult {
	t.Helper()
	status, body := ts.call(t, "POST", path, req)
	if status != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, status, body)
	}
	var res RunResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return res
}

// wantError checks an error answer's status and code.
func wantError(t *testing.T, status int, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	var eb ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if status != wantStatus || eb.Error.Code != wantCode || eb.Error.Message == "" {
		t.Errorf("got %d %s (%q), want %d %s", status, eb.Error.Code, eb.Error.Message, wantStatus, wantCode)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StoreForExamples is the tests' store, for the examples of package
// serve_test.
func StoreForExamples() string { return storeDir }
