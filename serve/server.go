package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

// Server serves the API over one Runtime and the boxes of one image
// layout. It is safe for concurrent use.
type Server struct {
	rt    *runtime.Runtime
	dir   string
	opts  options
	boxes boxCache
	lim   *limiter
	met   *metrics
	sess  *sessions
	mux   *http.ServeMux

	// active counts requests in progress; lastActive is when the last
	// ended (unix nanoseconds), for WithIdleExit.
	active     atomic.Int64
	lastActive atomic.Int64

	// base is the context of every request: cancelled when a shutdown
	// gives up draining, so that the runs left end.
	base     context.Context
	stopBase context.CancelFunc
}

// New makes a Server running the boxes of the OCI image layout dir
// (wasmbox's store: $WASMBOX_HOME/oci) on rt. rt should be interruptible
// (runtime.Config.WithInterruptible): a server must end a run that
// spins without system calls when its deadline passes. Boxes named with
// WithBoxes are opened and compiled before New returns.
func New(ctx context.Context, rt *runtime.Runtime, dir string, opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	base, stop := context.WithCancel(context.Background())
	s := &Server{
		rt:       rt,
		dir:      dir,
		opts:     o,
		boxes:    boxCache{dir: dir},
		lim:      newLimiter(o.concurrency, o.queue),
		met:      newMetrics(),
		base:     base,
		stopBase: stop,
	}
	s.sess = newSessions(s)
	for _, ref := range o.boxes {
		box, fresh, err := s.boxes.open(ref)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("serve: box %s: %w", ref, err)
		}
		if !fresh {
			continue
		}
		if err := rt.WarmBox(ctx, box); err != nil {
			s.Close()
			return nil, fmt.Errorf("serve: compiling box %s: %w", ref, err)
		}
	}
	s.mux = http.NewServeMux()
	for _, rt := range routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.auth(rt.handler(s)))
	}
	// The CLI's warm path (exec.go): on the Unix socket only, which it
	// checks itself; not part of the API (openapi.json).
	s.mux.Handle("POST /v1/exec", http.HandlerFunc(s.handleExec))
	if o.mcpBox != "" {
		h, err := s.MCPHandler(ctx, o.mcpBox)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("serve: MCP box %s: %w", o.mcpBox, err)
		}
		s.mux.Handle("/mcp", h)
	}
	s.mux.Handle("/", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})))
	return s, nil
}

// route is one endpoint of the API; openapi.json lists the same.
type route struct {
	method, pattern string
	handler         func(*Server) http.Handler
}

var routes = []route{
	{"POST", "/v1/runs", func(s *Server) http.Handler { return http.HandlerFunc(s.handleRun) }},
	{"POST", "/v1/sessions", func(s *Server) http.Handler { return http.HandlerFunc(s.handleSessionOpen) }},
	{"GET", "/v1/sessions/{id}", func(s *Server) http.Handler { return http.HandlerFunc(s.handleSessionGet) }},
	{"DELETE", "/v1/sessions/{id}", func(s *Server) http.Handler { return http.HandlerFunc(s.handleSessionDelete) }},
	{"POST", "/v1/sessions/{id}/runs", func(s *Server) http.Handler { return http.HandlerFunc(s.handleSessionRun) }},
	{"PUT", "/v1/sessions/{id}/files/{path...}", func(s *Server) http.Handler { return http.HandlerFunc(s.handleFilePut) }},
	{"GET", "/v1/sessions/{id}/files/{path...}", func(s *Server) http.Handler { return http.HandlerFunc(s.handleFileGet) }},
	{"GET", "/v1/openapi.json", func(s *Server) http.Handler { return http.HandlerFunc(s.handleOpenAPI) }},
	{"GET", "/metrics", func(s *Server) http.Handler { return http.HandlerFunc(s.met.serveHTTP(s)) }},
}

// Handler is the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve answers requests on l until ctx is done (or, WithIdleExit, the
// server is idle), then stops accepting and drains: requests in progress
// (and those queued) finish, for at most the run timeout and a margin;
// runs still going after that are ended. It refuses a TCP listener unless
// the Server has a token.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if _, ok := l.(*net.TCPListener); ok && s.opts.token == "" {
		l.Close()
		return errors.New("serve: a TCP listener needs a bearer token (WithToken)")
	}
	srv := &http.Server{
		Handler:           s.counted(s.mux),
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	var tick <-chan time.Time
	if s.opts.idleExit > 0 {
		t := time.NewTicker(min(s.opts.idleExit/4, time.Second))
		defer t.Stop()
		tick = t.C
	}
wait:
	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			break wait
		case <-tick:
			if s.idle() >= s.opts.idleExit {
				break wait
			}
		}
	}
	drain, cancel := context.WithTimeout(context.Background(), s.opts.timeout+5*time.Second)
	defer cancel()
	err := srv.Shutdown(drain)
	if err != nil {
		// Draining took too long: end what still runs.
		s.stopBase()
		srv.Close()
	}
	<-errc
	return err
}

// Close ends the sessions and releases the boxes. Call it after Serve.
func (s *Server) Close() error {
	s.stopBase()
	if s.sess != nil {
		s.sess.closeAll()
	}
	return s.boxes.close()
}

// ListenUnix listens on a Unix socket at path that only the calling user
// may connect to (mode 0600). A socket left by a server that is gone is
// replaced; one a live server answers on is an error.
func ListenUnix(path string) (net.Listener, error) {
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("serve: %s: a server is already listening there", path)
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("serve: %s exists and is not a socket", path)
		}
		os.Remove(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	l, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("serve: %w", err)
	}
	return l, nil
}

// ListenTCP listens on addr (host:port). token must not be empty: a TCP
// port is open to every user of the host, so the Server must be made
// WithToken(token) as well; ListenTCP only refuses the empty one.
func ListenTCP(addr, token string) (net.Listener, error) {
	if token == "" {
		return nil, errors.New("serve: listening on TCP needs a bearer token (--token-file or WASMBOX_SERVE_TOKEN)")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return l, nil
}

// boxCache keeps the boxes the server opened, by manifest digest, and the
// digest each reference named; references are resolved again when the
// store's index changes (a build, a tag, an rm).
type boxCache struct {
	dir string

	mu       sync.Mutex
	stamp    time.Time
	byRef    map[string]string
	byDigest map[string]*runtime.Box
}

// open returns the box ref names; fresh when this is the first time the
// server sees its digest.
func (c *boxCache) open(ref string) (box *runtime.Box, fresh bool, err error) {
	var stamp time.Time
	if st, err := os.Stat(filepath.Join(c.dir, "index.json")); err == nil {
		stamp = st.ModTime()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byDigest == nil {
		c.byDigest = map[string]*runtime.Box{}
	}
	if !stamp.Equal(c.stamp) || c.byRef == nil {
		c.byRef, c.stamp = map[string]string{}, stamp
	}
	if d, ok := c.byRef[ref]; ok {
		return c.byDigest[d], false, nil
	}
	box, err = runtime.OpenBox(c.dir, ref)
	if err != nil {
		return nil, false, err
	}
	fresh = true
	if old, ok := c.byDigest[box.Digest()]; ok {
		// Runs in progress hold the box opened first: keep it.
		box.Close()
		box, fresh = old, false
	}
	c.byDigest[box.Digest()] = box
	c.byRef[ref] = box.Digest()
	return box, fresh, nil
}

func (c *boxCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, b := range c.byDigest {
		errs = append(errs, b.Close())
	}
	c.byDigest = nil
	return errors.Join(errs...)
}

// openBox opens ref for a request, answering 404 for an unknown box. A box
// the server had not seen is compiled first, outside the run's deadline
// (and whether or not the client stays): a first request must not time
// out for compiling. A compile error is left for the run to report.
func (s *Server) openBox(ctx context.Context, ref string) (*runtime.Box, *RequestError) {
	if ref == "" {
		return nil, badRequest("no box: name one in \"box\"")
	}
	box, fresh, err := s.boxes.open(ref)
	if err == nil && fresh {
		s.rt.WarmBox(context.WithoutCancel(ctx), box)
	}
	switch {
	case errors.Is(err, oci.ErrNotFound):
		return nil, &RequestError{Status: http.StatusNotFound, Code: "unknown_box", Message: err.Error()}
	case err != nil:
		return nil, &RequestError{Status: http.StatusInternalServerError, Code: "box_unusable", Message: err.Error()}
	}
	return box, nil
}

// RequestError is a request the server refused or could not run: the
// HTTP status it answers with, the API's error code (stable, for programs)
// and a message (for people).
type RequestError struct {
	Status  int
	Code    string
	Message string
}

func (e *RequestError) Error() string { return e.Message }

func badRequest(format string, args ...any) *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf(format, args...)}
}

// networkNotGranted answers a request that asks for the network.
func networkNotGranted() *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Code: "network_not_granted", Message: "network is not granted: this server runs boxes without network (serve --network grants it)"}
}

// tooLarge answers a body past the limit.
func tooLarge(limit int64) *RequestError {
	return &RequestError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("the body is over the limit of %d bytes", limit)}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wasmbox"`)
	}
	writeJSON(w, status, ErrorBody{Error: APIError{Code: code, Message: msg}})
}

func (e *RequestError) write(w http.ResponseWriter) {
	if e.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, e.Status, e.Code, e.Message)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// decodeBody reads a JSON body of at most the server's body limit into v:
// 413 past the limit, 400 for anything but one JSON object of v's fields.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) *RequestError {
	body := http.MaxBytesReader(w, r.Body, s.opts.maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge(mbe.Limit)
	case err != nil:
		return &RequestError{Status: http.StatusBadRequest, Code: "bad_json", Message: "the body is not a JSON request: " + err.Error()}
	}
	return nil
}

// counted counts the requests in progress (an exec, over a connection the
// handler took over, lasts as long as its handler) and when the last ended.
func (s *Server) counted(h http.Handler) http.Handler {
	s.lastActive.Store(time.Now().UnixNano())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.active.Add(1)
		defer func() {
			s.lastActive.Store(time.Now().UnixNano())
			s.active.Add(-1)
		}()
		h.ServeHTTP(w, r)
	})
}

// idle is how long the server has had no request in progress and no
// session open (0 while it has).
func (s *Server) idle() time.Duration {
	if s.active.Load() > 0 || s.sess.count() > 0 {
		return 0
	}
	return time.Since(time.Unix(0, s.lastActive.Load()))
}
