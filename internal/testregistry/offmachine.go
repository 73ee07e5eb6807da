package testregistry

import (
	"errors"
	"net/http"
	"sync"
)

// OffMachine is an HTTP transport for tests of the plain-HTTP guard that
// never reaches the network: it records what the guard let through and
// fails every request. A test points a registry client at a private
// address through it and checks that Plain stays empty, and that HTTPS
// is not zero (else the transport was not used and the test proves
// nothing).
type OffMachine struct {
	mu    sync.Mutex
	https int
	plain []string
}

func (t *OffMachine) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.URL.Scheme == "http" {
		t.plain = append(t.plain, r.URL.String())
		return nil, errors.New("OffMachine: plain HTTP got through")
	}
	t.https++
	return nil, errors.New("OffMachine: no network in this test")
}

// Plain returns the plain-HTTP requests that reached the transport.
func (t *OffMachine) Plain() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.plain...)
}

// HTTPS is how many HTTPS requests reached the transport.
func (t *OffMachine) HTTPS() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.https
}
