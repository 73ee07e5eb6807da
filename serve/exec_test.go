package serve

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/runtime"
)

// The exec protocol end to end on a real Unix socket: output, status,
// stdin; an unknown box is ErrNoServer (the CLI goes on in-process).
func TestExec(t *testing.T) {
	runEnds := make(chan error, 10)
	ts := start(t, withRunEnd(func(err error) { runEnds <- err }))
	ctx := context.Background()
	var out, errOut bytes.Buffer
	e, err := Exec(ctx, ts.sock, &ExecRequest{Box: "sh", Args: []string{"sh", "-c", "cat; echo err >&2; exit 3"}, Stdin: true},
		strings.NewReader("from stdin\n"), &out, &errOut)
	if err != nil || e.Code != 3 || e.Cause != runtime.CauseExit || out.String() != "from stdin\n" || errOut.String() != "err\n" {
		t.Fatalf("exec: %+v %v, stdout %q, stderr %q", e, err, out.String(), errOut.String())
	}
	<-runEnds
	e, err = Exec(ctx, ts.sock, &ExecRequest{Box: "nosuch", Args: []string{"true"}}, nil, &out, &errOut)
	if !errors.Is(err, ErrNoServer) || !e.UnknownBox {
		t.Fatalf("an unknown box: %+v %v", e, err)
	}
	e, err = Exec(ctx, ts.sock, &ExecRequest{Box: "sh", Args: []string{"true"}, Volumes: []VolumeSpec{{Flag: "/nonexistent:/x", Host: "/nonexistent", Target: "/x"}}}, nil, &out, &errOut)
	if err != nil || e.Code != 125 || !strings.Contains(e.Error, "-v /nonexistent:/x") {
		t.Fatalf("a missing host directory: %+v %v", e, err)
	}
	if _, err := Exec(ctx, t.TempDir()+"/none.sock", &ExecRequest{Box: "sh"}, nil, &out, &errOut); !errors.Is(err, ErrNoServer) {
		t.Fatalf("no socket: %v", err)
	}
	// A client that leaves ends its run.
	cctx, cancel := context.WithCancel(ctx)
	ended := make(chan error, 1)
	go func() {
		_, err := Exec(cctx, ts.sock, &ExecRequest{Box: "sh", Args: []string{"sh", "-c", "echo started; sleep 60"}}, nil, writerFunc(func(p []byte) {
			cancel()
		}), &errOut)
		ended <- err
	}()
	if err := <-ended; err == nil {
		t.Fatal("a cancelled exec reported an exit")
	}
	var ee *runtime.ExitError
	if err := <-runEnds; !errors.As(err, &ee) || !ee.Cause.Killed() {
		t.Fatalf("the run of a client that left ended with %v, want killed", err)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// Exec is the Unix socket's: on TCP, even with the token, it is refused.
func TestExecNotOnTCP(t *testing.T) {
	l, err := ListenTCP("127.0.0.1:0", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, l, "", WithToken("s3cret"))
	req, _ := http.NewRequest("POST", "http://"+l.Addr().String()+"/v1/exec", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", execUpgrade)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("exec over TCP: %s", resp.Status)
	}
}
