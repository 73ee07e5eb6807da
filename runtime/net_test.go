package runtime_test

// The network capability (issue 12): real servers on 127.0.0.1, a real
// guest (testdata/netprobe, Go for wasip1 over the wasmbox_net ABI, and
// Go's own net package on the descriptors the runner gives).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goruntime "runtime"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/runtime"
)

var (
	probeOnce sync.Once
	probeCode []byte
	probeErr  error
)

// netprobe returns a shell box with /bin/netprobe in it.
func netprobeBox(t *testing.T) *runtime.Overlay {
	t.Helper()
	probeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "netprobe")
		if err != nil {
			probeErr = err
			return
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "netprobe.wasm"), "./testdata/netprobe")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = fmt.Errorf("building netprobe: %v\n%s", err, out)
			return
		}
		probeCode, probeErr = os.ReadFile(filepath.Join(dir, "netprobe.wasm"))
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	// In a layer of the image, not the writable layer: the runner then
	// compiles it once, not for every run.
	w := fsimage.NewWriter()
	if err := w.AddBytes(fsimage.Entry{Path: "bin", Type: fsimage.TypeDir, Mode: 0o755}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.AddBytes(fsimage.Entry{Path: "bin/netprobe", Type: fsimage.TypeReg, Mode: 0o755}, probeCode); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	layer, err := fsimage.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return runtime.NewOverlay(fsimage.Stack(testutil.ShellBase(t), layer))
}

// countingServer is an HTTP server on 127.0.0.1 that counts the
// connections it accepted.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newServer(t *testing.T) *countingServer {
	t.Helper()
	cs := &countingServer{}
	cs.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the host: %s %s\n", r.Method, r.URL.Path)
	}))
	cs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			cs.conns.Add(1)
		}
	}
	cs.Start()
	t.Cleanup(cs.Close)
	return cs
}

func (cs *countingServer) addr() string { return cs.Listener.Addr().String() }

func (cs *countingServer) port() string {
	_, p, _ := net.SplitHostPort(cs.addr())
	return p
}

func policy(t *testing.T, flags ...string) *runtime.Network {
	t.Helper()
	n := &runtime.Network{}
	for _, f := range flags {
		if err := n.ParseFlag(f); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestNetworkOffByDefault(t *testing.T) {
	srv := newServer(t)
	o := netprobeBox(t)
	r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "get", srv.addr(), "/"}})
	if r.code != 1 || !strings.Contains(r.stderr, "network policy") || !strings.Contains(r.stderr, "errno 2") {
		t.Errorf("a connect without a grant: %+v", r)
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("the server saw %d connections", n)
	}
}

func TestNetworkAllowRule(t *testing.T) {
	srv := newServer(t)
	o := netprobeBox(t)
	nw := policy(t, "allow=127.0.0.1:"+srv.port())
	for _, args := range [][]string{
		{"netprobe", "get", srv.addr(), "/blocking"},
		{"netprobe", "http", srv.URL + "/poller"},
	} {
		r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: args, Network: nw})
		if r.err != nil || r.code != 0 || !strings.Contains(r.stdout, "hello from the host: GET /") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if srv.conns.Load() != 2 {
		t.Errorf("the server saw %d connections, want 2", srv.conns.Load())
	}
	// Another port of the same address is not granted.
	other := newServer(t)
	r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "get", other.addr(), "/"}, Network: nw})
	if r.code != 1 || !strings.Contains(r.stderr, "loopback address; no --network rule names it") {
		t.Errorf("a port not granted: %+v", r)
	}
	if other.conns.Load() != 0 {
		t.Error("the server of a port not granted saw a connection")
	}
}

func TestNetworkNames(t *testing.T) {
	srv := newServer(t)
	o := netprobeBox(t)
	lo := netip.MustParseAddr("127.0.0.1")
	hosts := map[string][]netip.Addr{"api.test": {lo}, "other.test": {lo}, "public.test": {netip.MustParseAddr("93.184.215.14")}}
	run := func(nw *runtime.Network, args ...string) result {
		nw.Hosts = hosts
		return hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: append([]string{"netprobe"}, args...), Network: nw})
	}
	// Granted name and address: the name resolves and is reached.
	r := run(policy(t, "allow=api.test:"+srv.port()+",127.0.0.1:"+srv.port()), "get", "api.test:"+srv.port(), "/named")
	if r.code != 0 || !strings.Contains(r.stdout, "GET /named") {
		t.Errorf("a granted name: %+v", r)
	}
	// A name no rule grants does not resolve.
	r = run(policy(t, "allow=api.test:"+srv.port()+",127.0.0.1:"+srv.port()), "resolve", "other.test")
	if r.code != 1 || !strings.Contains(r.stderr, "errno 44") || !strings.Contains(r.stderr, "no --network rule grants the name other.test") {
		t.Errorf("an ungranted name: %+v", r)
	}
	// Rebinding: a granted name that answers a loopback address no rule
	// names gives the box nothing.
	r = run(policy(t, "allow=api.test"), "resolve", "api.test")
	if r.code != 1 || !strings.Contains(r.stderr, "resolved only to 127.0.0.1 (loopback)") {
		t.Errorf("a rebinding name: %+v", r)
	}
	// A public answer is given, and only to the name's ports.
	r = run(policy(t, "allow=public.test:443"), "resolve", "public.test")
	if r.code != 0 || !strings.Contains(r.stdout, "93.184.215.14") {
		t.Errorf("a public name: %+v", r)
	}
	// Under none, nothing resolves; a 1 MB name is refused before it is read.
	r = run(policy(t), "resolve", "api.test")
	if r.code != 1 || !strings.Contains(r.stderr, "--network none") {
		t.Errorf("none: %+v", r)
	}
	r = run(policy(t, "all"), "hugename")
	if r.code != 0 || !strings.Contains(r.stdout, "errno 28") {
		t.Errorf("a 1 MB name: %+v", r)
	}
	if srv.conns.Load() != 1 {
		t.Errorf("the server saw %d connections, want 1", srv.conns.Load())
	}
}

func TestNetworkSpecialAddresses(t *testing.T) {
	o := netprobeBox(t)
	for _, c := range []struct{ addr, want string }{
		{"169.254.169.254:80", "cloud metadata address"},
		{"10.1.2.3:80", "private address"},
		{"192.168.1.1:443", "private address"},
		{"[fd00:ec2::254]:80", "cloud metadata address"},
		{"[::1]:80", "loopback address"},
		{"[::ffff:127.0.0.1]:80", "loopback address"},
		{"0.0.0.0:80", "address"},
	} {
		r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "get", c.addr, "/"}, Network: policy(t, "all")})
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s under all: %+v", c.addr, r)
		}
	}
	stillRuns(t, sharedRT)
}

func TestNetworkPublish(t *testing.T) {
	o := netprobeBox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	pub, err := runtime.ParsePublish(fmt.Sprintf("%d:8000", hostPort))
	if err != nil {
		t.Fatal(err)
	}
	nw := &runtime.Network{Publish: []runtime.Publish{pub}}
	done := make(chan result, 1)
	go func() {
		done <- hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "serve", "8000", "2"}, Network: nw})
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/from-host", hostPort)
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
		if err != nil {
			time.Sleep(50 * time.Millisecond) // the box is not listening yet
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got = append(got, string(b))
	}
	r := <-done
	if r.code != 0 || len(got) != 2 || !strings.Contains(got[1], "box answered GET /from-host") {
		t.Errorf("published server: %+v, answers %q", r, got)
	}
	// The port is the run's: once it ended, nothing listens.
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", hostPort)); err == nil {
		c.Close()
		t.Error("the published port still listens after the run")
	}
}

func TestNetworkLoopbackInside(t *testing.T) {
	o := netprobeBox(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	hostPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p, _ := runtime.ParsePublish(fmt.Sprintf("%d:7000", hostPort))
	r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "self", "7000"}, Network: &runtime.Network{Publish: []runtime.Publish{p}}})
	if r.code != 0 || r.stdout != "ping-pong\n" {
		t.Errorf("the box's connection to itself: %+v", r)
	}
	r = hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "pair"}})
	if r.code != 0 || r.stdout != "true 204800\n" {
		t.Errorf("socketpair: %+v", r)
	}
	r = hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "fdops"}})
	if r.code != 0 || r.stdout != "<nil> true Illegal seek\n" {
		t.Errorf("file calls on a socket: %+v", r)
	}
}

func TestHostileNetwork(t *testing.T) {
	o := netprobeBox(t)
	t.Run("listen on an unpublished port", func(t *testing.T) {
		r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "listen", "9000"}, Network: policy(t, "all")})
		if r.code != 1 || !strings.Contains(r.stderr, "port 9000 is not published") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("10000 sockets", func(t *testing.T) {
		r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "many", "10000"}})
		if r.code != runtime.ExitKilled || r.cause != runtime.CauseFileLimit {
			t.Errorf("%+v", r)
		}
	})
	t.Run("a port not granted under a rule", func(t *testing.T) {
		srv := newServer(t)
		r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "get", srv.addr(), "/"}, Network: policy(t, "allow=127.0.0.1:1")})
		if r.code != 1 || srv.conns.Load() != 0 {
			t.Errorf("%+v", r)
		}
	})
	stillRuns(t, sharedRT)
}

// dnsServer is a DNS server on 127.0.0.1 (UDP) answering A records from
// answers and NXDOMAIN for the rest: the resolver the test controls.
func dnsServer(t *testing.T, answers map[string]netip.Addr) (string, *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var queries atomic.Int64
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if len(q) < 12 {
				continue
			}
			queries.Add(1)
			// The question: labels, then type and class.
			i, labels := 12, []string{}
			for i < len(q) && q[i] != 0 {
				l := int(q[i])
				if i+1+l > len(q) {
					break
				}
				labels = append(labels, string(q[i+1:i+1+l]))
				i += 1 + l
			}
			if i+5 > len(q) {
				continue
			}
			qtype := int(q[i+1])<<8 | int(q[i+2])
			question := q[12 : i+5]
			name := strings.ToLower(strings.Join(labels, "."))
			a, ok := answers[name]
			resp := append([]byte{q[0], q[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0}, question...)
			switch {
			case !ok:
				resp[3] |= 3 // NXDOMAIN
			case qtype == 1 && a.Is4():
				resp[7] = 1
				v4 := a.As4()
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, v4[:]...)
			}
			pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String(), &queries
}

func TestNetworkDNS(t *testing.T) {
	srv := newServer(t)
	dns, queries := dnsServer(t, map[string]netip.Addr{"api.test": netip.MustParseAddr("127.0.0.1"), "evil.test": netip.MustParseAddr("10.9.9.9")})
	o := netprobeBox(t)
	var mu sync.Mutex
	var events []runtime.NetEvent
	nw := policy(t, "allow=api.test:"+srv.port()+",127.0.0.1:"+srv.port()+",evil.test")
	nw.DNS = dns
	nw.Observe = func(ev runtime.NetEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}
	r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "get", "api.test:" + srv.port(), "/dns"}, Network: nw})
	if r.code != 0 || !strings.Contains(r.stdout, "GET /dns") {
		t.Errorf("a name through the test's DNS server: %+v", r)
	}
	r = hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "resolve", "evil.test"}, Network: nw})
	if r.code != 1 || !strings.Contains(r.stderr, "resolved only to 10.9.9.9 (private)") {
		t.Errorf("a granted name answering a private address: %+v", r)
	}
	r = hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "resolve", "nowhere.test"}, Network: nw})
	if r.code != 1 || !strings.Contains(r.stderr, "no --network rule grants") {
		t.Errorf("an ungranted name: %+v", r)
	}
	if queries.Load() == 0 {
		t.Error("the DNS server was never asked")
	}
	before := queries.Load()
	hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "resolve", "nowhere.test"}, Network: nw})
	if queries.Load() != before {
		t.Error("an ungranted name was sent to the DNS server")
	}
	mu.Lock()
	defer mu.Unlock()
	var log []string
	for _, ev := range events {
		log = append(log, fmt.Sprintf("%s %s %s %v", ev.Op, ev.Name, ev.Addr, ev.Allowed))
	}
	want := []string{
		"resolve api.test  true",
		"connect api.test 127.0.0.1:" + srv.port() + " true",
		"resolve evil.test  false",
		"resolve nowhere.test  false",
	}
	if got := strings.Join(log[:min(len(log), 4)], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// An operator's grant bounds a request's own rules (serve).
func TestNetworkBound(t *testing.T) {
	srv := newServer(t)
	other := newServer(t)
	o := netprobeBox(t)
	op := policy(t, "allow=127.0.0.1:"+srv.port())
	req := policy(t, "allow=127.0.0.1")
	req.Bound = op
	r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "get", srv.addr(), "/in"}, Network: req})
	if r.code != 0 {
		t.Errorf("within both: %+v", r)
	}
	r = hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "get", other.addr(), "/out"}, Network: req})
	if r.code != 1 || !strings.Contains(r.stderr, "(the operator's grant)") || other.conns.Load() != 0 {
		t.Errorf("the request's rule past the operator's grant: %+v", r)
	}
}

// Sockets, goroutines and host descriptors end with their runs.
func TestNetworkNothingLeaks(t *testing.T) {
	srv := newServer(t)
	o := netprobeBox(t)
	nw := policy(t, "allow=127.0.0.1:"+srv.port())
	run := func() {
		for _, args := range [][]string{{"get", srv.addr(), "/"}, {"http", srv.URL + "/"}, {"pair"}, {"many", "100"}} {
			hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: append([]string{"netprobe"}, args...), Network: nw})
		}
	}
	run() // compiles, warms pools
	fds, gs := openFDs(t), goruntimeNumGoroutine()
	for i := 0; i < 5; i++ {
		run()
	}
	srv.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (openFDs(t) > fds+2 || goruntimeNumGoroutine() > gs+4) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := openFDs(t); n > fds+2 {
		t.Errorf("host descriptors: %d before, %d after", fds, n)
	}
	if n := goruntimeNumGoroutine(); n > gs+4 {
		t.Errorf("goroutines: %d before, %d after", gs, n)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(ents)
}

func goruntimeNumGoroutine() int { return goruntime.NumGoroutine() }

// MSG_WAITALL waits for every byte asked, across the host's writes.
func TestNetworkWaitAll(t *testing.T) {
	o := netprobeBox(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	hostPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p, _ := runtime.ParsePublish(fmt.Sprintf("%d:7100", hostPort))
	done := make(chan result, 1)
	go func() {
		done <- hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"netprobe", "waitall", "7100", "8"}, Network: &runtime.Network{Publish: []runtime.Publish{p}}})
	}()
	var c net.Conn
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", hostPort)); err != nil {
			continue
		}
		// A connection the box took: it stays open (one it did not listen
		// for yet is closed at once).
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		c.Close()
		c = nil
	}
	if c == nil {
		t.Fatal("the box never listened")
	}
	defer c.Close()
	for _, piece := range []string{"abc", "de", "fgh"} {
		c.Write([]byte(piece))
		time.Sleep(30 * time.Millisecond)
	}
	r := <-done
	if r.code != 0 || r.stdout != "listening\n\"abcdefgh\"\n" {
		t.Errorf("recv(MSG_WAITALL): %+v", r)
	}
}
