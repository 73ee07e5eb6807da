package runtime_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// The python base's sockets, ssl and hashlib (shims/python: net/net.c over
// wasmbox_net, OpenSSL from Debian's source), in a run granted no network.
func TestPythonSocketsWithoutNetwork(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	box := pythonBox(t, rt, "")
	for _, tc := range []struct {
		name, prog string
		want       []string // lines of the output, each a prefix
	}{
		{"openssl", `import ssl; print(ssl.OPENSSL_VERSION)`, []string{"OpenSSL 3.0."}},
		{"hashlib through OpenSSL", `import hashlib; h = hashlib.sha256(b"abc"); print(hashlib.sha256.__name__, h.hexdigest())`,
			[]string{"openssl_sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}},
		{"the box's CA certificates", `
import ssl
ctx = ssl.create_default_context()
print(ctx.cert_store_stats()["x509_ca"] > 100, ctx.verify_mode == ssl.CERT_REQUIRED)
p = ssl.get_default_verify_paths()
print(p.cafile, p.capath)`, []string{"True True", "/usr/lib/ssl/cert.pem /usr/lib/ssl/certs"}},
		{"SSL_CERT_FILE and SSL_CERT_DIR", `
import os, ssl
os.environ["SSL_CERT_FILE"] = "/nonexistent.pem"
os.environ["SSL_CERT_DIR"] = "/nonexistent"
print(ssl.create_default_context().cert_store_stats()["x509_ca"])`, []string{"0"}},
		{"socketpair", `
import socket
a, b = socket.socketpair()
a.sendall(b"ping")
print(b.recv(4))
b.sendall(b"pong")
print(a.recv(4))
a.close()
print(b.recv(1))`, []string{"b'ping'", "b'pong'", "b''"}},
		{"asyncio wakes through its self-pipe", `
import asyncio

async def main():
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    loop.call_soon_threadsafe(fut.set_result, "woken")
    print(await fut, loop._ssock.fileno() > 2)

asyncio.run(main())`, []string{"woken True"}},
		{"select and timeouts on sockets", `
import select, socket
a, b = socket.socketpair()
print(select.select([a], [], [], 0)[0] == [])
b.send(b"x")
print(select.select([a], [], [], 5)[0] == [a])
a.recv(1)
a.settimeout(0.05)
try:
    a.recv(1)
except TimeoutError as e:
    print("timeout", e)`, []string{"True", "True", "timeout timed out"}},
		{"a connection the policy refuses", `
import socket
for timeout in None, 5:
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=timeout)
    except PermissionError as e:
        print("PermissionError", e)`, []string{"PermissionError [Errno 2] network policy", "PermissionError [Errno 2] network policy"}},
		{"a name that does not resolve", `
import socket
try:
    socket.getaddrinfo("example.invalid", 80)
except socket.gaierror as e:
    print(type(e).__name__, e.errno == socket.EAI_NONAME)`, []string{"gaierror True"}},
		{"numeric names resolve in the box", `
import socket
print(socket.getaddrinfo("127.0.0.1", "http", type=socket.SOCK_STREAM)[0][4], socket.getaddrinfo("::1", 443)[0][4][:2])
print(socket.getaddrinfo("localhost", 80, socket.AF_INET)[0][4], socket.inet_ntoa(b"\x7f\x00\x00\x01"))`,
			[]string{"('127.0.0.1', 80) ('::1', 443)", "('127.0.0.1', 80) 127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", tc.prog}})
			lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
			ok := r.err == nil && len(lines) == len(tc.want)
			for i := 0; ok && i < len(lines); i++ {
				ok = strings.HasPrefix(lines[i], tc.want[i])
			}
			if !ok {
				t.Fatalf("%v, output:\n%s\nwant lines starting:\n%s", r.err, r.out, strings.Join(tc.want, "\n"))
			}
		})
	}
}

// The python base's clients against servers of the host, in runs whose
// network policy grants 127.0.0.1 on the server's port.
func TestPythonSocketsWithGrant(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	})
	plain := httptest.NewServer(hello)
	defer plain.Close()
	trusted := httptest.NewTLSServer(hello)
	defer trusted.Close()
	untrusted := newTLSServer(t, hello)
	defer untrusted.Close()
	// An echo server: asyncio's open_connection writes a line, reads it back.
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()

	// The box trusts the CA of trusted (httptest's certificate is its own
	// CA), added to the bundle as an image's RUN would add a company CA.
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: trusted.Certificate().Raw})
	box := buildBox(t, rt, map[string][]byte{
		"Dockerfile": []byte("FROM python:3.11-slim\nCOPY ca.pem /tmp/ca.pem\nRUN cat /tmp/ca.pem >> /etc/ssl/certs/ca-certificates.crt\n"),
		"ca.pem":     ca,
	})
	// grant allows the rules (RULE[,RULE...]); echo.test names 127.0.0.1,
	// as --add-host would.
	grant := func(t *testing.T, rules string) *runtime.Network {
		t.Helper()
		n := &runtime.Network{Hosts: map[string][]netip.Addr{"echo.test": {netip.MustParseAddr("127.0.0.1")}}}
		if err := n.ParseFlag("allow=" + rules); err != nil {
			t.Fatal(err)
		}
		return n
	}
	_, echoPort, _ := net.SplitHostPort(echo.Addr().String())
	hostPort := func(u string) string { return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://") }
	for _, tc := range []struct {
		name, prog, arg, grant string
		want                   []string
	}{
		{"urllib over http", `
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/a") as r:
    print(r.status, r.read().decode())`, plain.URL, hostPort(plain.URL), []string{"200 hello /a"}},
		{"asyncio open_connection", `
import asyncio, sys

async def main():
    host, port = sys.argv[1].rsplit(":", 1)
    r, w = await asyncio.open_connection(host, int(port))
    w.write(b"ping\n")
    await w.drain()
    print((await r.readline()).decode().strip())
    w.close()
    await w.wait_closed()

asyncio.run(main())`, echo.Addr().String(), echo.Addr().String(), []string{"ping"}},
		{"asyncio open_connection by name", `
import asyncio, sys

async def main():
    r, w = await asyncio.open_connection("echo.test", int(sys.argv[1]))
    w.write(b"pong\n")
    await w.drain()
    print((await r.readline()).decode().strip(), w.get_extra_info("peername")[0])
    w.close()

asyncio.run(main())`, echoPort, "echo.test:" + echoPort + ",127.0.0.1:" + echoPort, []string{"pong 127.0.0.1"}},
		{"https to a CA of the box's bundle", `
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/b") as r:
    print(r.status, r.read().decode())`, trusted.URL, hostPort(trusted.URL), []string{"200 hello /b"}},
		{"https to a CA the box does not trust", `
import ssl, sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1])
except urllib.error.URLError as e:
    print(type(e.reason).__name__, e.reason.verify_message)`, untrusted.URL, hostPort(untrusted.URL),
			[]string{"SSLCertVerificationError "}},
		{"a port the policy does not grant", `
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
try:
    socket.create_connection((host, int(port)))
except PermissionError as e:
    print("PermissionError", e)`, plain.Listener.Addr().String(), "127.0.0.1:1", []string{"PermissionError [Errno 2] network policy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", tc.prog, tc.arg}, Network: grant(t, tc.grant)})
			lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
			ok := r.err == nil && len(lines) == len(tc.want)
			for i := 0; ok && i < len(lines); i++ {
				ok = strings.HasPrefix(lines[i], tc.want[i])
			}
			if !ok {
				t.Fatalf("%v, output:\n%s\nwant lines starting:\n%s", r.err, r.out, strings.Join(tc.want, "\n"))
			}
		})
	}
}

// newTLSServer starts an HTTPS server whose certificate (for 127.0.0.1) is
// signed by a CA of its own, made here.
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wasmbox test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	return srv
}

// A python server in the box, on a port published for the run, and a
// client of the same run reaching it on loopback (no rule needed):
// socket.create_server, accept with the peer's address, makefile; and
// asyncio's start_server with open_connection.
func TestPythonServerInBox(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	box := pythonBox(t, rt, "")
	for _, tc := range []struct{ name, prog, want string }{
		{"socket", `
import socket
srv = socket.create_server(("", 8000))
cli = socket.create_connection(("localhost", 8000), timeout=5)
conn, peer = srv.accept()
f, c = cli.makefile("rwb"), conn.makefile("rwb")
f.write(b"hello\n")
f.flush()
c.write(c.readline().upper())
c.flush()
print(f.readline().decode().strip(), peer[0], srv.getsockname()[1])`, "HELLO 127.0.0.1 8000\n"},
		{"asyncio", `
import asyncio

async def handle(r, w):
    w.write((await r.readline()).upper())
    await w.drain()
    w.close()

async def main():
    srv = await asyncio.start_server(handle, port=8000)
    async with srv:
        r, w = await asyncio.open_connection("127.0.0.1", 8000)
        w.write(b"ping\n")
        await w.drain()
        print((await r.readline()).decode().strip())
        w.close()

asyncio.run(main())`, "PING\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			hostPort := uint16(l.Addr().(*net.TCPAddr).Port)
			l.Close()
			nw := &runtime.Network{Publish: []runtime.Publish{{HostPort: hostPort, BoxPort: 8000}}}
			r := runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", tc.prog}, Network: nw})
			if r.err != nil || r.out != tc.want {
				t.Fatalf("%v, output %q, want %q", r.err, r.out, tc.want)
			}
		})
	}
}

// OpenSSL's random generators seeded while a snapshot was taken (a module
// the snapshot imports made an SSL context, as aiohttp does at import)
// are not shared by the runs started from it: each run is a new process
// with a new id, and OpenSSL reseeds on a new id.
func TestPythonSnapshotOpenSSLRandom(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	box := buildBox(t, rt, map[string][]byte{
		"Dockerfile": []byte("FROM python:3.11-slim\nCOPY seeded.py /usr/local/lib/python3.11/site-packages/\nENV WASMBOX_SNAPSHOT_IMPORTS=json,seeded PYTHONDONTWRITEBYTECODE=1\n"),
		"seeded.py":  []byte("import ssl\nCONTEXT = ssl.create_default_context()\nssl.RAND_bytes(16)\n"),
	})
	if err := rt.SnapshotBox(ctx, box); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		r := runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", "import seeded, ssl; print(ssl.RAND_bytes(16).hex())"}})
		if r.err != nil || r.stats.Snapshots != 1 || len(r.out) != 33 {
			t.Fatalf("run %d: %v, %d snapshots, output %q", i, r.err, r.stats.Snapshots, r.out)
		}
		if seen[r.out] {
			t.Fatalf("two runs from the snapshot drew the same bytes from OpenSSL: %q", r.out)
		}
		seen[r.out] = true
	}
}
