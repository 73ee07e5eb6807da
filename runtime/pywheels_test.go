package runtime_test

// Real Python libraries in a box (issue 12): requests, httpx, uvicorn and
// fastapi as wheels made from Debian's packages (internal/debwheel),
// installed by pip in a RUN step, against servers of the host under the
// run's network policy; and a server of the box reached from the host
// through a published port.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/internal/debwheel"
	"github.com/wasmbox/wasmbox/runtime"
)

// wheelsBox builds, once per test, a python box with the bookworm wheels
// installed by pip from a directory of the build context.
func wheelsBox(t *testing.T, rt *runtime.Runtime) *runtime.Box {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a python box")
	}
	cache, err := debwheel.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := time.Now()
	wheels, err := debwheel.Wheels(context.Background(), cache, debwheel.Bookworm, dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"Dockerfile": []byte(`FROM python:3.11-slim
COPY *.whl /wheels/
RUN pip install --no-index --find-links /wheels requests httpx fastapi uvicorn
WORKDIR /app
COPY client.py /app/
`),
		"client.py": []byte(clientPy),
	}
	for _, w := range wheels {
		b, err := os.ReadFile(w.File)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(w.File)] = b
	}
	t.Logf("%d wheels from Debian's packages in %v", len(wheels), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	box := buildBox(t, rt, files)
	t.Logf("box built in %v", time.Since(start).Round(time.Millisecond))
	return box
}

// clientPy fetches a URL with one client (argv[1]) and prints the body,
// or the exception's type and message, then its causes', and exits 3.
const clientPy = `import asyncio, sys

how, url = sys.argv[1], sys.argv[2]


def fetch():
    if how == "urllib":
        import urllib.request
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.read().decode()
    if how == "requests":
        import requests
        r = requests.get(url, timeout=20)
        r.raise_for_status()
        return r.text
    if how == "httpx":
        import httpx
        r = httpx.get(url, timeout=20)
        r.raise_for_status()
        return r.text
    if how == "httpx-async":
        import httpx

        async def main():
            async with httpx.AsyncClient(timeout=20) as c:
                r = await c.get(url)
                r.raise_for_status()
                return r.text

        return asyncio.run(main())
    raise SystemExit("no client " + how)


try:
    print(fetch(), end="")
except Exception as e:
    # The exception, then its causes, as a traceback shows them.
    while e is not None:
        print("%s.%s: %s" % (type(e).__module__, type(e).__qualname__, e))
        e = e.__cause__ or e.__context__
    sys.exit(3)
`

func TestPythonLibrariesOverNetwork(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(compileCache))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	box := wheelsBox(t, rt)

	t.Run("imports", func(t *testing.T) {
		r := runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", `import uvicorn, fastapi, httpx, anyio, requests, pydantic
print(uvicorn.__version__, fastapi.__version__, httpx.__version__, requests.__version__, pydantic.VERSION, pydantic.compiled)`}})
		if want := "0.17.6 0.92.0 0.23.3 2.28.1 1.10.4 False\n"; r.err != nil || r.out != want {
			t.Fatalf("%v, output %q, want %q", r.err, r.out, want)
		}
	})

	// Each client with the grant, then without it: the library's own
	// connection error, the policy named in it or (anyio's "All connection
	// attempts failed") in its cause, and no connection at the server.
	for _, tc := range []struct{ client, refused string }{
		{"urllib", "urllib.error.URLError: <urlopen error [Errno 2] network policy"},
		{"requests", "requests.exceptions.ConnectionError: "},
		{"httpx", "httpx.ConnectError: [Errno 2] network policy"},
		{"httpx-async", "httpx.ConnectError: All connection attempts failed"},
	} {
		t.Run(tc.client, func(t *testing.T) {
			srv := newServer(t)
			url := "http://" + srv.addr() + "/" + tc.client
			grant := policy(t, "allow=127.0.0.1:"+srv.port())
			start := time.Now()
			r := runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "client.py", tc.client, url}, Network: grant})
			if want := "hello from the host: GET /" + tc.client + "\n"; r.err != nil || r.out != want {
				t.Fatalf("granted: %v, output %q, want %q", r.err, r.out, want)
			}
			t.Logf("granted: %v", time.Since(start).Round(time.Millisecond))
			if n := srv.conns.Load(); n < 1 {
				t.Errorf("the server saw %d connections", n)
			}

			refused := newServer(t)
			r = runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "client.py", tc.client, "http://" + refused.addr() + "/"}})
			if !exitCode(r.err, 3) || !strings.HasPrefix(r.out, tc.refused) || !strings.Contains(r.out, "network policy: 127.0.0.1:"+refused.port()) {
				t.Errorf("not granted: %v, output %q, want one starting %q and naming the policy", r.err, r.out, tc.refused)
			}
			if n := refused.conns.Load(); n != 0 {
				t.Errorf("not granted: the server saw %d connections", n)
			}
		})
	}

	// asyncio.start_server in the box, published on the host's loopback,
	// answers a client of the host.
	t.Run("asyncio server through -p", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hostPort := uint16(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		prog := `
import asyncio

async def handle(r, w):
    line = await r.readline()
    w.write(b"box says " + line.upper())
    await w.drain()
    w.close()
    srv.close()

async def main():
    global srv
    srv = await asyncio.start_server(handle, "0.0.0.0", 8000)
    print("listening", flush=True)
    try:
        await srv.serve_forever()
    except asyncio.CancelledError:
        pass
    print("served")

asyncio.run(main())`
		nw := &runtime.Network{Publish: []runtime.Publish{{HostPort: hostPort, BoxPort: 8000}}}
		done := make(chan pyRun, 1)
		go func() {
			done <- runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", prog}, Network: nw})
		}()
		addr := fmt.Sprintf("127.0.0.1:%d", hostPort)
		var got string
		deadline := time.Now().Add(time.Minute)
		for got == "" {
			got, err = ask(addr, "hello\n")
			if err != nil && time.Now().After(deadline) {
				t.Fatalf("no answer from %s: %v", addr, err)
			}
			select {
			case r := <-done:
				t.Fatalf("the box ended before answering: %v, output %q", r.err, r.out)
			default:
			}
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if got != "box says HELLO\n" {
			t.Errorf("answer %q", got)
		}
		select {
		case r := <-done:
			if r.err != nil || r.out != "listening\nserved\n" {
				t.Errorf("%v, output %q", r.err, r.out)
			}
		case <-time.After(time.Minute):
			t.Fatal("the box did not end after serving")
		}
	})

	t.Run("uvicorn serves fastapi through -p", func(t *testing.T) { uvicornServes(t, rt, box) })
}

// fastapi's app served by uvicorn in the box, published on the host's
// loopback: an async endpoint answers a client of the host (a sync one
// would run in a thread, which WASI cannot start). The endpoint tells the
// server to stop, so the run ends by itself.
func uvicornServes(t *testing.T, rt *runtime.Runtime, box *runtime.Box) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	prog := `
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello/{name}")
async def hello(name: str, n: int = 1):
    server.should_exit = True
    return {"hello": name, "twice": 2 * n}


server = uvicorn.Server(uvicorn.Config(app, host="0.0.0.0", port=8000, log_level="warning"))
server.run()
print("served")
`
	nw := &runtime.Network{Publish: []runtime.Publish{{HostPort: hostPort, BoxPort: 8000}}}
	done := make(chan pyRun, 1)
	go func() {
		done <- runPy(rt, box, nil, runtime.Cmd{Args: []string{"python3", "-c", prog}, Network: nw})
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/hello/box?n=21", hostPort)
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(time.Minute)
	var body string
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = fmt.Sprintf("%d %s", resp.StatusCode, b)
			break
		}
		select {
		case r := <-done:
			t.Fatalf("the box ended before answering: %v, output %q", r.err, r.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want := `200 {"hello":"box","twice":42}`; body != want {
		t.Errorf("answer %q, want %q", body, want)
	}
	select {
	case r := <-done:
		if r.err != nil || r.out != "served\n" {
			t.Errorf("%v, output %q", r.err, r.out)
		}
	case <-time.After(time.Minute):
		t.Fatal("the box did not end after serving")
	}
}

// ask sends line to addr and returns the whole answer; an empty answer
// (the runner accepted before the box listened) is an error.
func ask(addr, line string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(line)); err != nil {
		return "", err
	}
	s, err := bufio.NewReader(c).ReadString('\n')
	if s == "" && err != nil {
		return "", err
	}
	return s, nil
}

func exitCode(err error, code int) bool {
	var ee *runtime.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == code
}
