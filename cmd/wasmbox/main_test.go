package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/wasmbox/wasmbox/internal/testregistry"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/shims"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"wasmbox": func() { os.Exit(wasmboxMain()) },
	})
}

// TestScripts runs the end-to-end CLI scripts of testdata/script: the real
// wasmbox command, real stand-ins on the real wazero, a fresh store each.
func TestScripts(t *testing.T) {
	dir := testutil.ShimsDir(t)
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv(shims.EnvDir, dir)
			env.Setenv("WASMBOX_HOME", env.WorkDir+"/home")
			env.Setenv("REPO", root)
			env.Setenv("INSPECTOR", os.Getenv(envInspector))
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "registry":
				// docker-registry and skopeo: skipped without them,
				// except in CI, which must have them.
				return testregistry.Available()
			case "inspector":
				return inspectorAvailable()
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"registry":      cmdRegistry,
			"tamper":        cmdTamper,
			"memregistry":   cmdMemRegistry,
			"foreign-image": cmdForeignImage,
			"waitsock":      cmdWaitSock,
			"httpserve":     cmdHTTPServe,
			"freeport":      cmdFreePort,
		},
	})
}

// waitsock PATH: waits (up to a minute) until a server answers on the
// Unix socket PATH, as a client of wasmbox serve would.
func cmdWaitSock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitsock PATH")
	}
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.Dial("unix", ts.MkAbs(args[0]))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no server on %s: %v", args[0], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// httpserve NAME: runs an HTTP server on a free port of 127.0.0.1 for the
// rest of the script, answering "hello NAME: METHOD PATH BODY"; $NAME_ADDR
// is its host:port, $NAME_PORT its port, and the file NAME.conns counts
// the connections it accepted.
func cmdHTTPServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpserve NAME")
	}
	name := args[0]
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "hello %s: %s %s %s\n", name, r.Method, r.URL.Path, body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n := conns.Add(1)
			os.WriteFile(ts.MkAbs(name+".conns"), []byte(fmt.Sprintf("%d\n", n)), 0o644)
		}
	}
	os.WriteFile(ts.MkAbs(name+".conns"), []byte("0\n"), 0o644)
	srv.Start()
	ts.Defer(srv.Close)
	addr := srv.Listener.Addr().(*net.TCPAddr)
	ts.Setenv(name+"_ADDR", addr.String())
	ts.Setenv(name+"_PORT", fmt.Sprint(addr.Port))
}

// freeport VAR: sets $VAR to a port of 127.0.0.1 that was free a moment ago.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ts.Setenv(args[0], fmt.Sprint(port))
}

// registry start: runs a registry (Debian's docker-registry) on a free
// port of 127.0.0.1 for the rest of the script; $REGISTRY is its host:port.
func cmdRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || args[0] != "start" {
		ts.Fatalf("usage: registry start")
	}
	r, err := testregistry.Start(ts.MkAbs("registry"))
	ts.Check(err)
	ts.Defer(r.Close)
	ts.Setenv("REGISTRY", r.Host)
	ts.Setenv("REGISTRY_DATA", r.Data)
}

// tamper REF manifest|config|layer N: changes one byte of that blob of the
// image REF in the registry's own storage, as a disk or an attacker would;
// the same tamper again undoes it.
func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: tamper REF manifest|config|layer N")
	}
	ref, err := name.ParseReference(args[0], name.Insecure)
	ts.Check(err)
	desc, err := remote.Get(ref)
	ts.Check(err)
	img, err := desc.Image()
	ts.Check(err)
	m, err := img.Manifest()
	ts.Check(err)
	var blob string
	switch args[1] {
	case "manifest":
		// What the registry says the tag names, even once tampered with.
		head, err := remote.Head(ref)
		ts.Check(err)
		blob = head.Digest.String()
	case "config":
		blob = m.Config.Digest.String()
	case "layer":
		var n int
		if len(args) != 3 {
			ts.Fatalf("usage: tamper REF layer N")
		}
		_, err := fmt.Sscan(args[2], &n)
		ts.Check(err)
		if n < 1 || n > len(m.Layers) {
			ts.Fatalf("%s has %d layers", args[0], len(m.Layers))
		}
		blob = m.Layers[n-1].Digest.String()
	default:
		ts.Fatalf("tamper: %q: want manifest, config or layer", args[1])
	}
	p := (&testregistry.Registry{Data: ts.Getenv("REGISTRY_DATA")}).BlobPath(blob)
	b, err := os.ReadFile(p)
	ts.Check(err)
	if args[1] == "layer" {
		b[len(b)/2] ^= 0x01
	} else {
		// JSON the registry still parses: one hex digit of a digest,
		// swapped with its pair, so that tampering twice undoes it.
		i := bytes.Index(b, []byte("sha256:"))
		if i < 0 {
			ts.Fatalf("no digest in %s", blob)
		}
		i += len("sha256:")
		b[i] = "1032547698badcfe"[strings.IndexByte("0123456789abcdef", b[i])]
	}
	ts.Check(os.WriteFile(p, b, 0o644))
	ts.Logf("tampered with %s (%s)", blob, p)
}

// envInspector names the MCP Inspector's launcher (make test installs it
// from npm and sets it).
const envInspector = "WASMBOX_MCP_INSPECTOR"

// inspectorAvailable: the MCP client scripts are skipped without the
// Inspector, except in CI, which must have it.
func inspectorAvailable() (bool, error) {
	p := os.Getenv(envInspector)
	if _, err := os.Stat(p); p == "" || err != nil {
		if os.Getenv("CI") != "" {
			return false, fmt.Errorf("the MCP Inspector is not installed ($%s=%q), and $CI is set (make test installs it)", envInspector, p)
		}
		return false, nil
	}
	return true, nil
}
