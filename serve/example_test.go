package serve_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmbox/wasmbox/runtime"
	"github.com/wasmbox/wasmbox/serve"
)

// Serve the boxes of a store on a Unix socket and run Python code through
// the API, as an agent would.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	// The store's image layout: $WASMBOX_HOME/oci for wasmbox's own,
	// with the server's compiled code beside it.
	store := serve.StoreForExamples()
	home := filepath.Dir(store)
	// Interruptible: a run past its deadline stops even in a loop that
	// makes no system call.
	rt, err := runtime.New(ctx, runtime.NewConfig().WithInterruptible(true).
		WithCompilationCacheDir(filepath.Join(home, "cache", "compiled")))
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)
	srv, err := serve.New(ctx, rt, store, serve.WithConcurrency(2), serve.WithBoxes("py"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "wbx")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "serve.sock")
	l, err := serve.ListenUnix(sock)
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, l) }()

	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Post("http://wasmbox/v1/runs", "application/json",
		strings.NewReader(`{"box": "py", "code": "print(sum(range(1000)))", "collect": ["/tmp/none"]}`))
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `"status":"ok"`), strings.Contains(string(body), `"stdout":"499500\n"`))
	stop() // drains, then Serve returns
	<-done
	// Output: 200 true true
}
