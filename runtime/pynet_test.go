package runtime_test

import (
	"context"
	"strings"
	"testing"

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
