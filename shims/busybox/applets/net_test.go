package applets

import (
	"compress/gzip"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testHandler serves what the curl, wget and nc tests fetch.
func testHandler(flaky *atomic.Int32) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })
	mux.HandleFunc("/file.txt", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "content\n") })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %q %s\n", r.Method, r.URL.RequestURI(), b, r.Header.Get("Content-Type"))
	})
	mux.HandleFunc("/header/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%q\n", r.Header.Values(r.PathValue("name")))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hello", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // no date: curl -i's output is fixed
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "not here\n")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "finally\n")
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		fmt.Fprintf(w, "%s:%s %v\n", u, p, ok)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "chunk one, ")
		w.(http.Flusher).Flush()
		io.WriteString(w, "chunk two\n")
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			io.WriteString(w, "plain\n")
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, "zipped\n")
		zw.Close()
	})
	mux.HandleFunc("/post307", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "only this")
	})
	return mux
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestCurlWget(t *testing.T) {
	var flaky atomic.Int32
	srv := httptest.NewServer(testHandler(&flaky))
	defer srv.Close()
	tlsSrv := httptest.NewUnstartedServer(testHandler(&flaky))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted cases' handshakes fail
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}))
	closed := closedPort(t)

	// A proxy that says who asked it, and makes tunnels (CONNECT).
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			fmt.Fprintf(w, "proxied %s\n", r.URL)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		conn, brw, _ := w.(http.Hijacker).Hijack()
		go func() { io.Copy(up, brw); up.Close() }()
		io.Copy(conn, up)
		conn.Close()
	}))
	defer proxy.Close()

	u, tu := srv.URL, tlsSrv.URL
	cases := []testCase{
		{name: "curl get", args: []string{"curl", "-fsS", u + "/hello"}, wantOut: "hello\n"},
		{name: "curl no scheme", args: []string{"curl", "-s", strings.TrimPrefix(u, "http://") + "/hello"}, wantOut: "hello\n"},
		{name: "curl -o", args: []string{"curl", "-s", "-o", "out", u + "/hello"}, after: map[string]string{"out": "hello\n"}},
		{name: "curl -O", args: []string{"curl", "-sO", u + "/file.txt"}, after: map[string]string{"file.txt": "content\n"}},
		{name: "curl two urls", args: []string{"curl", "-s", u + "/hello", u + "/file.txt"}, wantOut: "hello\ncontent\n"},
		{name: "curl -d", args: []string{"curl", "-s", "-d", "a=1", "-d", "b=2", u + "/echo"},
			wantOut: "POST /echo \"a=1&b=2\" application/x-www-form-urlencoded\n"},
		{name: "curl -d @file", args: []string{"curl", "-s", "-d", "@body", u + "/echo"}, files: map[string]string{"body": "x\ny\n"},
			wantOut: "POST /echo \"xy\" application/x-www-form-urlencoded\n"},
		{name: "curl --data-binary @file", args: []string{"curl", "-s", "--data-binary", "@body", "-H", "Content-Type: text/plain", u + "/echo"},
			files: map[string]string{"body": "x\ny\n"}, wantOut: "POST /echo \"x\\ny\\n\" text/plain\n"},
		{name: "curl --data-raw", args: []string{"curl", "-s", "--data-raw", "@x", u + "/echo"},
			wantOut: "POST /echo \"@x\" application/x-www-form-urlencoded\n"},
		{name: "curl -d @-", args: []string{"curl", "-s", "-d", "@-", u + "/echo"}, stdin: "in",
			wantOut: "POST /echo \"in\" application/x-www-form-urlencoded\n"},
		{name: "curl --data-urlencode", args: []string{"curl", "-s", "--data-urlencode", "q=a b&c", u + "/echo"},
			wantOut: "POST /echo \"q=a%20b%26c\" application/x-www-form-urlencoded\n"},
		{name: "curl -G", args: []string{"curl", "-s", "-G", "-d", "q=1", u + "/echo"}, wantOut: "GET /echo?q=1 \"\" \n"},
		{name: "curl -X", args: []string{"curl", "-s", "-X", "PUT", "-d", "v", u + "/echo"},
			wantOut: "PUT /echo \"v\" application/x-www-form-urlencoded\n"},
		{name: "curl -H", args: []string{"curl", "-s", "-H", "X-Test: one", "-H", "X-Test: two", u + "/header/X-Test"},
			wantOut: "[\"one\" \"two\"]\n"},
		{name: "curl default UA", args: []string{"curl", "-s", u + "/header/User-Agent"}, wantOut: "[\"curl/8.5.0\"]\n"},
		{name: "curl -A", args: []string{"curl", "-s", "-A", "probe/1", u + "/header/User-Agent"}, wantOut: "[\"probe/1\"]\n"},
		{name: "curl -H removes", args: []string{"curl", "-s", "-H", "Accept:", u + "/header/Accept"}, wantOut: "[]\n"},
		{name: "curl -u", args: []string{"curl", "-s", "-u", "me:secret", u + "/auth"}, wantOut: "me:secret true\n"},
		{name: "curl redirect not followed", args: []string{"curl", "-s", "-w", "%{http_code} %{redirect_url}", u + "/redirect"},
			wantOut: "<a href=\"/hello\">Found</a>.\n\n302 " + u + "/hello"},
		{name: "curl -L", args: []string{"curl", "-sL", "-w", "%{http_code} %{num_redirects} %{url_effective}\\n", u + "/redirect"},
			wantOut: "hello\n200 1 " + u + "/hello\n"},
		{name: "curl -L loop", args: []string{"curl", "-sSL", "--max-redirs", "3", u + "/loop"},
			wantErr: "curl: (47) Maximum (3) redirects followed\n", code: 47},
		{name: "curl 404 without -f", args: []string{"curl", "-s", u + "/missing"}, wantOut: "not here\n"},
		{name: "curl -f 404", args: []string{"curl", "-f", u + "/missing"},
			wantErr: "curl: (22) The requested URL returned error: 404\n", code: 22},
		{name: "curl -fs 404", args: []string{"curl", "-fs", u + "/missing"}, code: 22},
		{name: "curl -fsS 404", args: []string{"curl", "-fsS", u + "/missing"},
			wantErr: "curl: (22) The requested URL returned error: 404\n", code: 22},
		{name: "curl --fail-with-body", args: []string{"curl", "-s", "--fail-with-body", u + "/missing"}, wantOut: "not here\n", code: 22},
		{name: "curl -w http_code", args: []string{"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", u + "/missing"}, wantOut: "404"},
		{name: "curl -f -w", args: []string{"curl", "-fs", "-w", "%{http_code}\\n", u + "/missing"}, wantOut: "404\n", code: 22},
		{name: "curl --retry", args: []string{"curl", "-fsS", "--retry", "3", "--retry-delay", "0.01", u + "/flaky"}, wantOut: "finally\n"},
		{name: "curl -m", args: []string{"curl", "-sS", "-m", "0.2", u + "/slow"}, anyErr: true, code: 28},
		{name: "curl refused", args: []string{"curl", "-sS", "http://" + closed + "/"}, anyErr: true, code: 7},
		{name: "curl partial", args: []string{"curl", "-sS", u + "/short"}, wantOut: "only this",
			wantErr: "curl: (18) transfer closed with 91 bytes remaining to read\n", code: 18},
		{name: "curl bad protocol", args: []string{"curl", "-sS", "ftp://x/"}, wantErr: "curl: (1) Protocol \"ftp\" not supported\n", code: 1},
		{name: "curl bad option", args: []string{"curl", "--bogus", u}, wantErr: "curl: option unrecognized option '--bogus'\ncurl: try 'curl --help' for more information\n", code: 2},
		{name: "curl no url", args: []string{"curl", "-s"}, wantErr: "curl: no URL specified\ncurl: try 'curl --help' for more information\n", code: 2},
		{name: "curl bad timeout", args: []string{"curl", "-m", "x", u}, wantErr: "curl: option --max-time: expected a proper numerical parameter\n", code: 2},
		{name: "curl https untrusted", args: []string{"curl", "-sS", tu + "/hello"}, files: map[string]string{"ca.pem": ca},
			env: []string{"SSL_CERT_FILE=/nonexistent-so-nothing-is-trusted"}, anyErr: true, code: 77},
		{name: "curl https unknown CA", args: []string{"curl", "-sS", "--cacert", "empty.pem", tu + "/hello"},
			files: map[string]string{"empty.pem": ""}, anyErr: true, code: 60},
		{name: "curl https --cacert", args: []string{"curl", "-fsS", "--cacert", "ca.pem", tu + "/hello"},
			files: map[string]string{"ca.pem": ca}, wantOut: "hello\n"},
		{name: "curl https SSL_CERT_FILE", args: []string{"curl", "-fsS", tu + "/hello"},
			files: map[string]string{"ca.pem": ca}, env: []string{"SSL_CERT_FILE=ca.pem"}, wantOut: "hello\n"},
		{name: "curl https SSL_CERT_DIR", args: []string{"curl", "-fsS", tu + "/hello"},
			files: map[string]string{"certs/ca.pem": ca}, env: []string{"SSL_CERT_DIR=certs"}, wantOut: "hello\n"},
		{name: "curl https -k", args: []string{"curl", "-fsSk", tu + "/hello"}, wantOut: "hello\n"},
		{name: "curl http_proxy", args: []string{"curl", "-s", "http://example.invalid/x"},
			env: []string{"http_proxy=" + proxy.URL}, wantOut: "proxied http://example.invalid/x\n"},
		{name: "curl HTTP_PROXY ignored", args: []string{"curl", "-s", u + "/hello"},
			env: []string{"HTTP_PROXY=" + proxy.URL}, wantOut: "hello\n"},
		{name: "curl no_proxy", args: []string{"curl", "-s", u + "/hello"},
			env: []string{"http_proxy=" + proxy.URL, "no_proxy=example.com,127.0.0.1"}, wantOut: "hello\n"},
		{name: "curl -x", args: []string{"curl", "-s", "-x", proxy.URL, "http://example.invalid/y"},
			wantOut: "proxied http://example.invalid/y\n"},
		{name: "curl https through a tunnel", args: []string{"curl", "-fsS", "--cacert", "ca.pem", tu + "/hello"},
			files: map[string]string{"ca.pem": ca}, env: []string{"https_proxy=" + proxy.URL}, wantOut: "hello\n"},
		{name: "curl chunked", args: []string{"curl", "-fsS", u + "/chunked"}, wantOut: "chunk one, chunk two\n"},
		{name: "curl --compressed", args: []string{"curl", "-fsS", "--compressed", u + "/gzip"}, wantOut: "zipped\n"},
		{name: "curl not compressed", args: []string{"curl", "-fsS", u + "/gzip"}, wantOut: "plain\n"},
		{name: "curl -L 307 keeps POST", args: []string{"curl", "-sL", "-d", "x", u + "/post307"},
			wantOut: "POST /echo \"x\" application/x-www-form-urlencoded\n"},
		{name: "curl -L 302 POST becomes GET", args: []string{"curl", "-sL", "-d", "x", u + "/redirect"}, wantOut: "hello\n"},
		{name: "curl -i", args: []string{"curl", "-si", "-H", "Accept:", u + "/missing"}, wantOut: "HTTP/1.1 404 Not Found\r\n" +
			"Content-Length: 9\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nnot here\n"},
		{name: "curl --noproxy", args: []string{"curl", "-s", "--noproxy", "*", u + "/hello"},
			env: []string{"http_proxy=" + proxy.URL}, wantOut: "hello\n"},

		{name: "wget -qO-", args: []string{"wget", "-qO-", u + "/hello"}, wantOut: "hello\n"},
		{name: "wget -O file", args: []string{"wget", "-q", "-O", "out", u + "/hello"}, after: map[string]string{"out": "hello\n"}},
		{name: "wget default name", args: []string{"wget", "-q", u + "/file.txt"}, after: map[string]string{"file.txt": "content\n"}},
		{name: "wget index.html", args: []string{"wget", "-q", u + "/redirect"}, after: map[string]string{"hello": "hello\n"}},
		{name: "wget messages", args: []string{"wget", "-O", "out", u + "/hello"}, after: map[string]string{"out": "hello\n"},
			wantErr: "Connecting to 127.0.0.1 (" + strings.TrimPrefix(u, "http://") + ")\nsaving to 'out'\n'out' saved\n"},
		{name: "wget 404", args: []string{"wget", "-qO-", u + "/missing"},
			wantErr: "wget: server returned error: HTTP/1.1 404 Not Found\n", code: 1},
		{name: "wget --spider", args: []string{"wget", "-q", "--spider", u + "/hello"}, after: map[string]string{"hello": "<absent>"}},
		{name: "wget --spider 404", args: []string{"wget", "-q", "--spider", u + "/missing"},
			wantErr: "wget: server returned error: HTTP/1.1 404 Not Found\n", code: 1},
		{name: "wget --header -U", args: []string{"wget", "-qO-", "--header", "X-Test: v", "-U", "agent/2", u + "/header/X-Test"}, wantOut: "[\"v\"]\n"},
		{name: "wget -U", args: []string{"wget", "-qO-", "-U", "agent/2", u + "/header/User-Agent"}, wantOut: "[\"agent/2\"]\n"},
		{name: "wget --post-data", args: []string{"wget", "-qO-", "--post-data", "k=v", u + "/echo"},
			wantOut: "POST /echo \"k=v\" application/x-www-form-urlencoded\n"},
		{name: "wget refused", args: []string{"wget", "-qO-", "http://" + closed + "/"},
			wantErr: "wget: can't connect to remote host (127.0.0.1): Connection refused\n", code: 1},
		{name: "wget -T", args: []string{"wget", "-qO-", "-T", "0.2", u + "/slow"}, wantErr: "wget: download timed out\n", code: 1},
		{name: "wget https untrusted", args: []string{"wget", "-qO-", tu + "/hello"}, anyErr: true, code: 1},
		{name: "wget https trusted", args: []string{"wget", "-qO-", tu + "/hello"}, files: map[string]string{"ca.pem": ca},
			env: []string{"SSL_CERT_FILE=ca.pem"}, wantOut: "hello\n"},
		{name: "wget --no-check-certificate", args: []string{"wget", "-qO-", "--no-check-certificate", tu + "/hello"}, wantOut: "hello\n"},
		{name: "wget -S", args: []string{"wget", "-qO-", "-S", u + "/hello"}, wantOut: "hello\n", anyErr: true},
		{name: "wget no url", args: []string{"wget"}, wantErr: "wget: missing URL\n", code: 1},
	}
	runTable(t, cases)
}

func TestCurlHead(t *testing.T) {
	srv := httptest.NewServer(testHandler(new(atomic.Int32)))
	defer srv.Close()
	out, errs, code := runExec(t, t.TempDir(), "", nil, nil, "curl", "-sI", srv.URL+"/hello")
	if code != 0 || errs != "" {
		t.Fatalf("status %d, stderr %q", code, errs)
	}
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.Contains(out, "Content-Length: 6\r\n") || !strings.HasSuffix(out, "\r\n\r\n") {
		t.Errorf("curl -I printed %q", out)
	}
}

func TestNc(t *testing.T) {
	// An echo server that upper-cases nothing: it answers what it got,
	// once the client has shut its side.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				fmt.Fprintf(c, "got %q\n", b)
			}()
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	_, closed, _ := net.SplitHostPort(closedPort(t))
	runTable(t, []testCase{
		{name: "nc", args: []string{"nc", host, port}, stdin: "ping\n", wantOut: "got \"ping\\n\"\n"},
		{name: "nc -z open", args: []string{"nc", "-z", host, port}},
		{name: "nc -z closed", args: []string{"nc", "-z", host, closed}, code: 1},
		{name: "nc -zv open", args: []string{"nc", "-zv", host, port}, wantErr: host + " (" + l.Addr().String() + ") open\n"},
		{name: "nc -zv closed", args: []string{"nc", "-zv", "-w", "1", host, closed},
			wantErr: "nc: can't connect to remote host (127.0.0.1): Connection refused\n", code: 1},
		{name: "nc closed", args: []string{"nc", host, closed}, wantErr: "nc: can't connect to remote host (127.0.0.1): Connection refused\n", code: 1},
		{name: "nc usage", args: []string{"nc", host}, wantErr: "nc: missing HOST PORT\n", code: 1},
		{name: "nc bad port", args: []string{"nc", host, "x"}, wantErr: "nc: bad port 'x'\n", code: 1},
	})
}

func TestNcListen(t *testing.T) {
	_, port, _ := net.SplitHostPort(closedPort(t))
	done := make(chan string)
	go func() {
		out, errs, code := runExec(t, t.TempDir(), "from server\n", nil, nil, "nc", "-l", "-p", port)
		done <- fmt.Sprintf("%q %q %d", out, errs, code)
	}()
	var c net.Conn
	var err error
	for range 100 {
		if c, err = net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	// nc ends at the end of what the client sends: read first.
	b, _ := io.ReadAll(c)
	io.WriteString(c, "from client\n")
	c.(*net.TCPConn).CloseWrite()
	c.Close()
	if string(b) != "from server\n" {
		t.Errorf("client got %q", b)
	}
	if got, want := <-done, `"from client\n" "" 0`; got != want {
		t.Errorf("nc -l: %s, want %s", got, want)
	}
}

func TestNoProxyMatch(t *testing.T) {
	for _, tc := range []struct {
		list, host string
		want       bool
	}{
		{"", "example.com", false},
		{"*", "example.com", true},
		{"example.com", "example.com", true},
		{"example.com", "www.example.com", true},
		{".example.com", "www.example.com", true},
		{"example.com", "notexample.com", false},
		{"a.org, example.com ", "EXAMPLE.com.", true},
		{"10.0.0.0/8", "10.1.2.3", true},
		{"10.0.0.0/8", "11.1.2.3", false},
		{"127.0.0.1", "127.0.0.1", true},
		{"[::1]", "::1", true},
		{"example.com", "10.0.0.1", false},
	} {
		if got := noProxyMatch(tc.list, tc.host); got != tc.want {
			t.Errorf("noProxyMatch(%q, %q) = %v, want %v", tc.list, tc.host, got, tc.want)
		}
	}
}

func TestParseCurl(t *testing.T) {
	o, u := parseCurl([]string{"-fsSL", "-o", "a", "-O", "--retry", "3", "-m", "1.5", "--connect-timeout=2",
		"-H", "A: b", "--header", "C: d", "-d", "x", "--data-binary", "@f", "-X", "PATCH", "-k", "-u", "u:p",
		"-A", "ua", "-w", "%{http_code}", "-v", "http://h/", "https://i/"})
	if u != nil {
		t.Fatal(u.msg)
	}
	want := &curlOpts{
		urls: []string{"http://h/", "https://i/"}, outputs: []string{"a", ""}, fail: true, silent: true,
		showError: true, location: true, maxRedirs: 50, headers: []string{"A: b", "C: d"},
		data: []curlData{{"d", "x"}, {"data-binary", "@f"}}, method: "PATCH", insecure: true,
		writeOut: "%{http_code}", maxTime: 1500 * time.Millisecond, connTimeout: 2 * time.Second,
		user: "u:p", verbose: true, retries: 3,
	}
	ua := "ua"
	want.userAgent = &ua
	if diff := cmp.Diff(want, o, cmp.AllowUnexported(curlOpts{}, curlData{})); diff != "" {
		t.Errorf("parseCurl (-want +got):\n%s", diff)
	}
	for _, bad := range [][]string{{}, {"-Z", "u"}, {"--retry", "x", "u"}, {"-o"}} {
		if _, u := parseCurl(bad); u == nil || u.code != 2 {
			t.Errorf("parseCurl(%q): want a usage error with status 2, got %v", bad, u)
		}
	}
}

func TestParseWgetNc(t *testing.T) {
	w, msg := parseWget([]string{"-qO-", "-T", "5", "--spider", "--header", "A: b", "-U", "x", "--no-check-certificate", "-S", "u"})
	if w == nil {
		t.Fatal(msg)
	}
	if !w.quiet || w.output != "-" || w.timeout != 5*time.Second || !w.spider || !w.insecure || !w.serverRsp ||
		w.userAgent != "x" || len(w.headers) != 1 || len(w.urls) != 1 {
		t.Errorf("parseWget: %+v", w)
	}
	n, msg := parseNc([]string{"-zv", "-w", "3", "h", "20-22", "80"})
	if n == nil {
		t.Fatal(msg)
	}
	if !n.zero || n.verbose != 1 || n.wait != 3*time.Second || n.host != "h" || fmt.Sprint(n.ports) != "[20 21 22 80]" {
		t.Errorf("parseNc: %+v", n)
	}
	if n, msg := parseNc([]string{"-l", "8080"}); n == nil || n.port != "8080" {
		t.Errorf("parseNc -l 8080: %+v %s", n, msg)
	}
	if _, msg := parseNc([]string{"h", "1", "2"}); msg == "" {
		t.Error("parseNc: two ports without -z accepted")
	}
}

func TestCAPool(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o644)
	env := &Env{Dir: dir, Environ: []string{"SSL_CERT_FILE=ca.pem"}}
	pool, err := caPool(env, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlsSrv.Certificate().Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("the pool from SSL_CERT_FILE does not verify: %v", err)
	}
	if _, err := caPool(&Env{Dir: dir, Environ: []string{"SSL_CERT_FILE=missing"}}, ""); err == nil {
		t.Error("a missing SSL_CERT_FILE is no error")
	}
}
