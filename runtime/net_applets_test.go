package runtime_test

// The shell base's network applets (curl, wget, nc of busybox.wasm) on
// the real runner, against servers on the host's 127.0.0.1, with and
// without a grant (issue 12).

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// appletServer is an HTTP or HTTPS test server that counts connections.
type appletServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newAppletServer(t *testing.T, tls bool) *appletServer {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s\n", r.Method, b)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hello", http.StatusFound)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	s := &appletServer{Server: httptest.NewUnstartedServer(mux)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case's handshake fails
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *appletServer) port() string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

func TestNetApplets(t *testing.T) {
	srv := newAppletServer(t, false)
	tlsSrv := newAppletServer(t, true)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	box := func(t *testing.T, trustCA bool) *runtime.Overlay {
		o := shellBox(t)
		if trustCA {
			if err := o.MkdirAll("/etc/ssl/certs", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := o.WriteFile("/etc/ssl/certs/ca-certificates.crt", ca, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return o
	}
	nw := policy(t, "allow=127.0.0.1:"+srv.port()+",127.0.0.1:"+tlsSrv.port())
	u, tu := srv.URL, tlsSrv.URL
	for _, tc := range []struct {
		name    string
		args    []string
		stdin   string
		noCA    bool
		wantOut string
		wantErr string // a substring of stderr
		code    int
	}{
		{name: "curl", args: []string{"curl", "-fsS", u + "/hello"}, wantOut: "hello\n"},
		{name: "curl -o", args: []string{"sh", "-c", "curl -fsS -o /tmp/out " + u + "/hello && cat /tmp/out"}, wantOut: "hello\n"},
		{name: "curl -d", args: []string{"curl", "-fsS", "-d", "a=1", u + "/echo"}, wantOut: "POST a=1\n"},
		{name: "curl -L", args: []string{"curl", "-fsSL", u + "/redirect"}, wantOut: "hello\n"},
		{name: "curl -w", args: []string{"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", u + "/missing"}, wantOut: "404"},
		{name: "curl -f 404", args: []string{"curl", "-fsS", u + "/missing"},
			wantErr: "curl: (22) The requested URL returned error: 404", code: 22},
		{name: "curl -m", args: []string{"curl", "-sS", "-m", "0.5", u + "/slow"}, wantErr: "curl: (28)", code: 28},
		{name: "wget -qO-", args: []string{"wget", "-qO-", u + "/hello"}, wantOut: "hello\n"},
		{name: "wget --spider", args: []string{"wget", "-q", "--spider", u + "/hello"}},
		{name: "wget 404", args: []string{"wget", "-qO-", u + "/missing"},
			wantErr: "wget: server returned error: HTTP/1.1 404 Not Found", code: 1},
		{name: "curl https", args: []string{"curl", "-fsS", tu + "/hello"}, wantOut: "hello\n"},
		{name: "wget https", args: []string{"wget", "-qO-", tu + "/hello"}, wantOut: "hello\n"},
		{name: "curl https untrusted", args: []string{"curl", "-fsS", tu + "/hello"}, noCA: true,
			wantErr: "curl: (60) SSL certificate problem", code: 60},
		{name: "curl https -k", args: []string{"curl", "-fsSk", tu + "/hello"}, noCA: true, wantOut: "hello\n"},
		{name: "nc -z", args: []string{"nc", "-z", "127.0.0.1", srv.port()}},
		{name: "nc", args: []string{"nc", "127.0.0.1", srv.port()}, stdin: "GET /hello HTTP/1.0\r\n\r\n", wantOut: "hello\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hostileRun(t, sharedRT, context.Background(), box(t, !tc.noCA), runtime.Cmd{
				Args: tc.args, Network: nw, Stdin: strings.NewReader(tc.stdin)})
			if r.err != nil || r.code != tc.code {
				t.Fatalf("%q: status %d (%v), want %d; stderr %q", tc.args, r.code, r.err, tc.code, r.stderr)
			}
			if tc.name == "nc" {
				// The whole response: its body ends it.
				if !strings.HasPrefix(r.stdout, "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(r.stdout, tc.wantOut) {
					t.Errorf("%q: stdout %q", tc.args, r.stdout)
				}
			} else if r.stdout != tc.wantOut {
				t.Errorf("%q: stdout %q, want %q", tc.args, r.stdout, tc.wantOut)
			}
			if !strings.Contains(r.stderr, tc.wantErr) || (tc.wantErr == "" && r.stderr != "") {
				t.Errorf("%q: stderr %q, want %q", tc.args, r.stderr, tc.wantErr)
			}
		})
	}
}

// TestNetAppletsWithoutGrant: nothing reaches the server, and the error
// names the policy.
func TestNetAppletsWithoutGrant(t *testing.T) {
	srv := newAppletServer(t, false)
	other := newAppletServer(t, false)
	for _, nw := range []*runtime.Network{nil, policy(t, "allow=127.0.0.1:"+other.port())} {
		for _, tc := range []struct {
			args    []string
			wantErr string
			code    int
		}{
			{[]string{"curl", "-fsS", srv.URL + "/hello"}, "curl: (7) Failed to connect to 127.0.0.1 port " + srv.port(), 7},
			{[]string{"wget", "-qO-", srv.URL + "/hello"}, "wget: can't connect to remote host (127.0.0.1): ", 1},
			{[]string{"nc", "-z", "-v", "127.0.0.1", srv.port()}, "nc: can't connect to remote host (127.0.0.1): ", 1},
		} {
			r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{Args: tc.args, Network: nw})
			if r.err != nil || r.code != tc.code || r.stdout != "" ||
				!strings.Contains(r.stderr, tc.wantErr) || !strings.Contains(r.stderr, "network policy") {
				t.Errorf("%q (network %v): %+v", tc.args, nw != nil, r)
			}
		}
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("the server saw %d connections", n)
	}
}

// publishFree publishes boxPort on a free port of the host's 127.0.0.1.
func publishFree(t *testing.T, boxPort int) (int, runtime.Publish) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	pub, err := runtime.ParsePublish(fmt.Sprintf("%d:%d", hostPort, boxPort))
	if err != nil {
		t.Fatal(err)
	}
	return hostPort, pub
}

// TestNetAppletsListen: nc -l on a port published for the run, reached
// from the host.
func TestNetAppletsListen(t *testing.T) {
	hostPort, pub := publishFree(t, 7000)
	// Compiled first: the host's attempts below do not wait for that.
	if r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{Args: []string{"true"}}); r.code != 0 {
		t.Fatalf("true: %+v", r)
	}
	done := make(chan result, 1)
	go func() {
		done <- hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
			Args: []string{"nc", "-l", "-p", "7000"}, Stdin: strings.NewReader("from the box\n"),
			Network: &runtime.Network{Publish: []runtime.Publish{pub}}})
	}()
	var got []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", hostPort), 5*time.Second)
		if err != nil {
			time.Sleep(50 * time.Millisecond) // the box is not listening yet
			continue
		}
		// nc ends with what its peer sends: read its side first.
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, _ = io.ReadAll(c)
		if len(got) > 0 {
			io.WriteString(c, "from the host\n")
		}
		c.Close()
		if len(got) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := <-done
	if string(got) != "from the box\n" || r.err != nil || r.code != 0 || r.stdout != "from the host\n" {
		t.Errorf("nc -l: the host got %q; the box: %+v", got, r)
	}
}

// TestNetAppletsNames: names resolve through the runner, under the policy.
func TestNetAppletsNames(t *testing.T) {
	srv := newAppletServer(t, false)
	lo := netip.MustParseAddr("127.0.0.1")
	nw := policy(t, "allow=api.test:"+srv.port()+",127.0.0.1:"+srv.port())
	nw.Hosts = map[string][]netip.Addr{"api.test": {lo}, "other.test": {lo}}
	for _, tc := range []struct {
		args             []string
		wantOut, wantErr string
		code             int
	}{
		{args: []string{"curl", "-fsS", "http://api.test:" + srv.port() + "/hello"}, wantOut: "hello\n"},
		{args: []string{"wget", "-qO-", "http://api.test:" + srv.port() + "/hello"}, wantOut: "hello\n"},
		{args: []string{"curl", "-sS", "http://other.test:" + srv.port() + "/hello"},
			wantErr: "curl: (6) Could not resolve host: other.test: network policy", code: 6},
		{args: []string{"wget", "-qO-", "http://other.test:" + srv.port() + "/hello"},
			wantErr: "wget: bad address 'other.test': network policy", code: 1},
		{args: []string{"nc", "-z", "other.test", srv.port()}, wantErr: "nc: bad address 'other.test'", code: 1},
	} {
		r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{Args: tc.args, Network: nw})
		if r.err != nil || r.code != tc.code || r.stdout != tc.wantOut || !strings.Contains(r.stderr, tc.wantErr) {
			t.Errorf("%q: %+v", tc.args, r)
		}
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("the server saw %d connections, want 2", n)
	}
}

// TestNetAppletsLoopbackInside: a healthcheck's curl to localhost reaches
// the same run's listener without a rule.
func TestNetAppletsLoopbackInside(t *testing.T) {
	_, pub := publishFree(t, 8000)
	script := `printf 'HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n' | nc -l -p 8000 > /tmp/req &
		for i in 1 2 3 4 5 6 7 8 9 10; do curl -fsS -m 5 http://localhost:8000/health && break; sleep 0.2; done
		wait; head -n 1 /tmp/req`
	r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
		Args: []string{"sh", "-c", script}, Network: &runtime.Network{Publish: []runtime.Publish{pub}}})
	if r.err != nil || r.code != 0 || r.stdout != "ok\nGET /health HTTP/1.1\r\n" {
		t.Errorf("curl localhost to the run's own listener: %+v", r)
	}
}
