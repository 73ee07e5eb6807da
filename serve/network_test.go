package serve

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmbox/wasmbox/runtime"
)

// A run's network is the operator's grant, or its own rules within it
// (issue 12), with a python client against a server on 127.0.0.1.
func TestRunNetwork(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())

	op, err := runtime.NetworkFlags([]string{"allow=127.0.0.1:" + port + ",127.0.0.1:" + otherPort}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	ts := start(t, WithNetwork(op))
	fetch := func(url string) string {
		return "import urllib.request\nprint(urllib.request.urlopen(" + fmt.Sprintf("%q", url) + ", timeout=10).read().decode())"
	}
	res := ts.run(t, RunRequest{Box: "py", Code: fetch(srv.URL + "/granted"), Network: &NetworkRequest{On: true}})
	if res.Status != StatusOK || res.Stdout != "hello /granted\n" {
		t.Errorf("the operator's grant: %+v", res)
	}
	// Without asking: none.
	res = ts.run(t, RunRequest{Box: "py", Code: fetch(srv.URL + "/not-asked")})
	if res.Status != StatusError || !strings.Contains(res.Stderr, "network policy") {
		t.Errorf("a run that did not ask: %+v", res)
	}
	// Its own rules narrow the grant: the other port is out.
	narrow := &NetworkRequest{On: true, Allow: []string{"127.0.0.1:" + port}}
	res = ts.run(t, RunRequest{Box: "py", Code: fetch(other.URL + "/narrowed"), Network: narrow})
	if res.Status != StatusError || !strings.Contains(res.Stderr, "PermissionError") {
		t.Errorf("a rule of its own: %+v", res)
	}
	// ... and cannot widen it.
	wide := &NetworkRequest{On: true, Allow: []string{"127.0.0.1"}}
	res = ts.run(t, RunRequest{Box: "py", Code: fetch("http://127.0.0.1:1/wider"), Network: wide})
	if res.Status != StatusError || !strings.Contains(res.Stderr, "the operator's grant") {
		t.Errorf("a rule past the operator's grant: %+v", res)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the server saw %d connections, want 1", n)
	}
	// A session's network is given when it opens, and its runs (the
	// session's interpreter among them) have it.
	status, body := ts.call(t, "POST", "/v1/sessions", SessionRequest{Box: "py", Network: &NetworkRequest{On: true}})
	if status != http.StatusCreated {
		t.Fatalf("open a session: %d %s", status, body)
	}
	var se Session
	json.Unmarshal(body, &se)
	runs := "/v1/sessions/" + se.ID + "/runs"
	res = ts.runAt(t, runs, RunRequest{Code: fetch(srv.URL + "/session")})
	if res.Status != StatusOK || res.Stdout != "hello /session\n" {
		t.Errorf("a session's run: %+v", res)
	}
	status, body = ts.call(t, "POST", runs, RunRequest{Code: "pass", Network: &NetworkRequest{On: true}})
	if status != http.StatusBadRequest || !strings.Contains(string(body), "network is the session's") {
		t.Errorf("a session run asking for its own network: %d %s", status, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("the server saw %d connections, want 2", n)
	}
	// A bad rule is the request's fault.
	status, body = ts.call(t, "POST", "/v1/runs", map[string]any{"box": "py", "code": "pass", "network": map[string]any{"allow": []string{"x:99999"}}})
	if status != http.StatusBadRequest || !strings.Contains(string(body), "is not a port") {
		t.Errorf("a bad rule: %d %s", status, body)
	}
	status, body = ts.call(t, "POST", "/v1/runs", json.RawMessage(`{"box": "py", "code": "pass", "network": {"allow": ["x"], "publish": ["1:2"]}}`))
	if status != http.StatusBadRequest {
		t.Errorf("an unknown field of network: %d %s", status, body)
	}
}
