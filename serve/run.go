package serve

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/wasmbox/wasmbox/internal/envlist"
	"github.com/wasmbox/wasmbox/runtime"
)

// plan is a checked request, ready to run.
type plan struct {
	args    []string
	code    string // python source, when the run is code
	env     []string
	dir     string
	user    string
	stdin   []byte
	files   map[string]FileContent
	collect []string
	limits  runtime.Limits
	timeout time.Duration
	output  int64
	// mounts are the run's own, beside the operator's.
	mounts []runtime.Mount
	// network is what it may reach; nil: nothing.
	network *runtime.Network
}

// plan checks req against box and the server's ceilings.
func (s *Server) plan(box *runtime.Box, req *RunRequest, sessionEnv map[string]string) (*plan, *RequestError) {
	if req.Code != "" && len(req.Cmd) > 0 {
		return nil, badRequest("give code or cmd, not both")
	}
	if req.Stdin != "" && req.StdinBase64 != "" {
		return nil, badRequest("give stdin or stdin_base64, not both")
	}
	cfg := box.Config()
	p := &plan{dir: cfg.WorkingDir, user: cfg.User, files: req.Files, mounts: req.mounts}
	if req.Workdir != "" {
		if !path.IsAbs(req.Workdir) {
			return nil, badRequest("workdir %q: must be absolute", req.Workdir)
		}
		p.dir = path.Clean(req.Workdir)
	}
	if p.dir == "" {
		p.dir = "/"
	}
	switch {
	case req.Code != "":
		p.args = []string{"python3", "-c", req.Code}
		p.code = req.Code
	case len(req.Cmd) > 0:
		p.args = req.Cmd
	default:
		p.args = box.Command().Args
	}
	if len(p.args) == 0 {
		return nil, badRequest("no command: the box has no ENTRYPOINT or CMD; give code or cmd")
	}
	// The image's environment, HOSTNAME, then the session's and the
	// request's (as docker run's -e).
	p.env = append([]string{}, cfg.Env...)
	if _, ok := envlist.Lookup(p.env, "HOSTNAME"); !ok {
		p.env = append(p.env, "HOSTNAME="+runtime.DefaultHostname)
	}
	for _, m := range []map[string]string{sessionEnv, req.Env} {
		for k, v := range m {
			if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
				return nil, badRequest("env %q: a name must be non-empty, without = or NUL", k)
			}
			p.env = envlist.Set(p.env, k, v)
		}
	}
	switch {
	case req.StdinBase64 != "":
		b, err := base64.StdEncoding.DecodeString(req.StdinBase64)
		if err != nil {
			return nil, badRequest("stdin_base64: %v", err)
		}
		p.stdin = b
	default:
		p.stdin = []byte(req.Stdin)
	}
	for name := range req.Files {
		if _, rerr := s.boxPath(name, p.dir); rerr != nil {
			return nil, rerr
		}
	}
	var rerr *RequestError
	if p.collect, rerr = s.checkCollect(req.Collect, p.dir); rerr != nil {
		return nil, rerr
	}
	if p.limits, p.timeout, p.output, rerr = s.clamp(req.Limits); rerr != nil {
		return nil, rerr
	}
	if se := req.session; se != nil {
		if req.Network != nil {
			return nil, badRequest("network is the session's: give it when the session is opened")
		}
		p.network = se.network
	} else if p.network, rerr = s.networkOf(req.Network); rerr != nil {
		return nil, rerr
	}
	return p, nil
}

// clamp is the request's limits within the server's ceilings.
func (s *Server) clamp(rl *RequestLimits) (runtime.Limits, time.Duration, int64, *RequestError) {
	l := s.opts.ceilings
	timeout, output := s.opts.timeout, s.opts.output
	if rl == nil {
		return l, timeout, output, nil
	}
	if rl.Memory < 0 || rl.TimeoutMS < 0 || rl.OutputBytes < 0 || rl.Processes < 0 {
		return l, 0, 0, badRequest("limits must not be negative")
	}
	lower := func(ceiling, asked int64) int64 {
		if asked == 0 {
			return ceiling
		}
		eff := ceiling
		if ceiling == 0 { // the runtime's default
			eff = runtime.DefaultLimits.Memory
		}
		if ceiling == runtime.Unlimited || asked < eff {
			return asked
		}
		return ceiling
	}
	if rl.Memory > 0 && rl.Memory < 1<<20 {
		return l, 0, 0, badRequest("limits.memory %d: at least 1 MiB", rl.Memory)
	}
	l.Memory = lower(l.Memory, rl.Memory)
	if rl.Processes > 0 {
		ceil := l.Processes
		if ceil == 0 {
			ceil = runtime.DefaultLimits.Processes
		}
		if ceil == runtime.Unlimited || rl.Processes < ceil {
			l.Processes = rl.Processes
		}
	}
	if rl.TimeoutMS > 0 {
		timeout = min(timeout, time.Duration(rl.TimeoutMS)*time.Millisecond)
	}
	if rl.OutputBytes > 0 {
		output = min(output, rl.OutputBytes)
	}
	return l, timeout, output, nil
}

// sink receives a run's output as it is written (server-sent events).
type sink interface {
	output(stream string, p []byte)
}

// capture keeps the first limit bytes written to it and counts the rest;
// with a sink, it passes them on instead of keeping them.
type capture struct {
	mu      sync.Mutex
	name    string
	limit   int64
	kept    int64
	buf     []byte
	dropped int64
	sink    sink
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	keep := p[:min(int64(len(p)), max(c.limit-c.kept, 0))]
	c.kept += int64(len(keep))
	c.dropped += int64(len(p) - len(keep))
	if c.sink == nil {
		c.buf = append(c.buf, keep...)
	}
	c.mu.Unlock()
	if c.sink != nil && len(keep) > 0 {
		c.sink.output(c.name, keep)
	}
	return len(p), nil
}

func (c *capture) text() (string, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf), c.dropped
}

// execute runs p on ov (a fresh overlay of box, or a session's) and
// answers with the result; ctx is the request's: the client going away
// ends the run.
func (s *Server) execute(ctx context.Context, ov *runtime.Overlay, p *plan, out sink, queued time.Duration) (*RunResult, *RequestError) {
	if rerr := s.placeFiles(ov, p.files, p.dir); rerr != nil {
		return nil, rerr
	}
	stdout := &capture{name: "stdout", limit: p.output, sink: out}
	stderr := &capture{name: "stderr", limit: p.output, sink: out}
	runCtx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	var stats runtime.Stats
	err := s.rt.Run(runCtx, ov, runtime.Cmd{
		Args:    p.args,
		Env:     p.env,
		Dir:     p.dir,
		User:    p.user,
		Stdin:   strings.NewReader(string(p.stdin)),
		Stdout:  stdout,
		Stderr:  stderr,
		Mounts:  append(append([]runtime.Mount(nil), s.opts.mounts...), p.mounts...),
		Limits:  p.limits,
		Network: p.network,
		Stats:   &stats,
	})
	wall := time.Since(start)
	if s.opts.onRunEnd != nil {
		s.opts.onRunEnd(err)
	}
	res := &RunResult{Usage: Usage{WallMS: ms(wall), QueueMS: ms(queued), PeakMemory: &stats.PeakMemory, Snapshot: stats.Snapshots > 0}}
	if !res.ended(err) {
		s.met.observe("failed", wall)
		return nil, &RequestError{Status: http.StatusInternalServerError, Code: "run_failed", Message: err.Error()}
	}
	s.met.observe(res.Status, wall)
	res.Stdout, res.StdoutDropped = stdout.text()
	res.Stderr, res.StderrDropped = stderr.text()
	res.Files = s.collect(ov, p.collect)
	return res, nil
}

// ended sets res's status, exit code and reason from the error a run
// ended with (nil, or a *runtime.ExitError); false for another error:
// wasmbox failed, not the program.
func (res *RunResult) ended(err error) bool {
	var ee *runtime.ExitError
	switch {
	case err == nil:
		res.Status = StatusOK
	case errors.As(err, &ee):
		res.ExitCode, res.Reason = ee.ExitCode(), ee.Reason
		res.Status = statusOf(ee.Cause)
	default:
		return false
	}
	return true
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// statusOf is the API's status for why a run ended.
func statusOf(c runtime.Cause) string {
	switch c {
	case runtime.CauseTimeLimit:
		return StatusTimeout
	case runtime.CauseMemoryLimit:
		return StatusOutOfMemory
	}
	if c.Killed() {
		return StatusKilled
	}
	return StatusError
}

// admit takes a run slot, or answers why not. A request waits in the
// queue at most the run timeout (the server's ceiling).
func (s *Server) admit(ctx context.Context) (time.Duration, *RequestError) {
	start := time.Now()
	wait, cancel := context.WithTimeout(ctx, s.opts.timeout)
	defer cancel()
	switch err := s.lim.acquire(wait); {
	case errors.Is(err, errQueueFull):
		s.met.reject("queue_full")
		return 0, &RequestError{Status: http.StatusTooManyRequests, Code: "queue_full", Message: err.Error()}
	case ctx.Err() == nil && err != nil:
		s.met.reject("queue_timeout")
		return 0, &RequestError{Status: http.StatusTooManyRequests, Code: "queue_timeout", Message: fmt.Sprintf("no run slot came free within %s", s.opts.timeout)}
	case err != nil:
		return 0, &RequestError{Status: 499, Code: "client_gone", Message: "the client went away while queued"}
	}
	return time.Since(start), nil
}

// handleRun is POST /v1/runs: one run on a fresh writable layer.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	var req RunRequest
	if rerr := s.decodeBody(w, r, &req); rerr != nil {
		s.met.reject(rerr.Code)
		rerr.write(w)
		return
	}
	s.answer(w, r, func(start func() sink) (*RunResult, *RequestError) {
		return s.runOnce(r.Context(), &req, start)
	})
}

// Run runs req as POST /v1/runs does, for a caller in the same process
// (the MCP tools): the same checks, ceilings, queue and deadline. Its
// error is a *RequestError.
func (s *Server) Run(ctx context.Context, req RunRequest) (*RunResult, error) {
	res, rerr := s.runOnce(ctx, &req, nil)
	if rerr != nil {
		return nil, rerr
	}
	return res, nil
}

// runOnce runs req on a fresh writable layer of its box.
func (s *Server) runOnce(ctx context.Context, req *RunRequest, start func() sink) (*RunResult, *RequestError) {
	box, rerr := s.openBox(ctx, req.Box)
	if rerr != nil {
		s.met.reject(rerr.Code)
		return nil, rerr
	}
	return s.runOn(ctx, box.Overlay, box, req, nil, start)
}

// runOn plans, admits and runs req on the overlay it is given once
// admitted; start, when not nil, is called once admitted and returns
// where the output streams to.
func (s *Server) runOn(ctx context.Context, overlay func() *runtime.Overlay, box *runtime.Box, req *RunRequest, sessionEnv map[string]string, start func() sink) (*RunResult, *RequestError) {
	p, rerr := s.plan(box, req, sessionEnv)
	if rerr != nil {
		s.met.reject(rerr.Code)
		return nil, rerr
	}
	queued, rerr := s.admit(ctx)
	if rerr != nil {
		return nil, rerr
	}
	defer s.lim.release()
	var out sink
	if start != nil {
		out = start()
	}
	if se := req.session; se != nil && p.code != "" && (se.py == nil || se.py.user == p.user) {
		return s.executeCode(ctx, se, p, out, queued)
	}
	return s.execute(ctx, overlay(), p, out, queued)
}

// answer answers a run request in JSON or, when the client accepts them,
// as server-sent events from the moment the run is admitted.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, run func(start func() sink) (*RunResult, *RequestError)) {
	if !wantsEvents(r) {
		res, rerr := run(nil)
		if rerr != nil {
			rerr.write(w)
			return
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	var ev *eventStream
	res, rerr := run(func() sink {
		ev = newEventStream(w)
		return ev
	})
	switch {
	case ev == nil && rerr != nil:
		rerr.write(w) // refused before the stream began
	case rerr != nil:
		ev.event("error", ErrorBody{Error: APIError{Code: rerr.Code, Message: rerr.Message}})
	default:
		ev.event("exit", res)
	}
}

func jsonLine(v any) ([]byte, error) { return json.Marshal(v) }

// wantsEvents reports whether the client asked for server-sent events.
func wantsEvents(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// eventStream writes server-sent events: "stdout" and "stderr" with a
// JSON string of output each, then "exit" with the RunResult (stdout and
// stderr empty: they were streamed) or "error".
type eventStream struct {
	mu sync.Mutex
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newEventStream(w http.ResponseWriter) *eventStream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	return &eventStream{w: w, rc: rc}
}

func (e *eventStream) output(stream string, p []byte) { e.event(stream, string(p)) }

func (e *eventStream) event(name string, v any) {
	data, err := jsonLine(v)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", name, data)
	e.rc.Flush()
}
