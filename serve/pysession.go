package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// A session's code runs share one Python interpreter, so their globals
// last as its files do: the interpreter (pysession.py) is a process of the
// session's box instance, started at its first code run, that takes each
// run on its stdin and marks the end of its output with a line of the run's
// nonce (which the code cannot know, so cannot forge). It is killed with
// its globals when a run passes its deadline or its client leaves, and
// ends when the program exits it (os._exit) or passes a limit; the next
// code run starts a new one. Runs with cmd, or as another user, are new
// processes as before.

//go:embed pysession.py
var pysession string

// pysessionBoot runs the driver, given as argv[1], under a name of its own.
const pysessionBoot = "import sys; exec(compile(sys.argv[1], '<wasmbox-session>', 'exec'))"

// pyInterp is a session's running interpreter.
type pyInterp struct {
	user   string
	in     *io.PipeWriter
	stdout *routeWriter
	stderr *routeWriter
	cancel context.CancelFunc
	ended  chan struct{}
	err    error // Run's, once ended
	stats  runtime.Stats
}

// routeWriter sends an interpreter's output to the run at work; on stdout
// it sees the run's end line.
type routeWriter struct {
	mu     sync.Mutex
	to     io.Writer
	marker []byte   // "\x00wasmbox-end:NONCE:"
	end    chan int // the run's status, at its end line
}

func (w *routeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.marker != nil && bytes.HasPrefix(p, w.marker) {
		status, err := strconv.Atoi(string(bytes.TrimSpace(p[len(w.marker):])))
		if err == nil {
			w.marker = nil
			w.end <- status // buffered: one per run
			return len(p), nil
		}
	}
	if w.to != nil {
		w.to.Write(p)
	}
	return len(p), nil
}

func (w *routeWriter) route(to io.Writer, marker []byte) {
	w.mu.Lock()
	w.to, w.marker = to, marker
	w.mu.Unlock()
}

// interp returns the session's interpreter for p, starting one when
// there is none (or it ended).
func (s *Server) interp(se *session, p *plan) *pyInterp {
	if it := se.py; it != nil {
		select {
		case <-it.ended:
		default:
			return it
		}
	}
	ctx, cancel := context.WithCancel(se.ctx)
	pr, pw := io.Pipe()
	it := &pyInterp{user: p.user, in: pw, cancel: cancel, ended: make(chan struct{}),
		stdout: &routeWriter{end: make(chan int, 1)}, stderr: &routeWriter{}}
	go func() {
		defer close(it.ended)
		defer pr.Close()
		it.err = s.rt.Run(ctx, se.ov, runtime.Cmd{
			Args:    []string{"python3", "-c", pysessionBoot, pysession},
			Env:     p.env,
			Dir:     p.dir,
			User:    p.user,
			Stdin:   pr,
			Stdout:  it.stdout,
			Stderr:  it.stderr,
			Mounts:  s.opts.mounts,
			Limits:  p.limits,
			Network: p.network,
			Stats:   &it.stats,
		})
	}()
	se.py = it
	return it
}

// stop kills the interpreter and waits for its end.
func (it *pyInterp) stop() {
	it.cancel()
	it.in.CloseWithError(errors.New("the interpreter was stopped"))
	<-it.ended
}

// executeCode runs p's code in the session's interpreter.
func (s *Server) executeCode(ctx context.Context, se *session, p *plan, out sink, queued time.Duration) (*RunResult, *RequestError) {
	if rerr := s.placeFiles(se.ov, p.files, p.dir); rerr != nil {
		return nil, rerr
	}
	stdout := &capture{name: "stdout", limit: p.output, sink: out}
	stderr := &capture{name: "stderr", limit: p.output, sink: out}
	start := time.Now()
	it := s.interp(se, p)
	var nb [16]byte
	rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	it.stdout.route(stdout, []byte("\x00wasmbox-end:"+nonce+":"))
	it.stderr.route(stderr, nil)
	defer it.stdout.route(nil, nil)
	defer it.stderr.route(nil, nil)
	line, err := json.Marshal(map[string]any{
		"nonce": nonce, "code": p.code, "env": p.env, "dir": p.dir,
		"stdin": base64.StdEncoding.EncodeToString(p.stdin),
	})
	if err != nil {
		return nil, &RequestError{Status: 500, Code: "run_failed", Message: err.Error()}
	}
	go it.in.Write(append(line, '\n')) // ends with the pipe, if the interpreter does
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	res := &RunResult{}
	select {
	case status := <-it.stdout.end:
		res.ExitCode = status
		res.Status = StatusOK
		if status != 0 {
			res.Status = StatusError
		}
	case <-it.ended:
		s.interpEnded(it, res)
	case <-timer.C:
		it.stop()
		res.Status, res.ExitCode = StatusTimeout, runtime.ExitKilled
		res.Reason = fmt.Sprintf("time limit of %s reached; the session's Python interpreter was stopped, and its globals with it", p.timeout)
	case <-ctx.Done():
		it.stop()
		res.Status, res.ExitCode = StatusKilled, runtime.ExitKilled
		res.Reason = "the client went away; the session's Python interpreter was stopped, and its globals with it"
	}
	wall := time.Since(start)
	s.met.observe(res.Status, wall)
	res.Usage.WallMS, res.Usage.QueueMS = ms(wall), ms(queued)
	res.Stdout, res.StdoutDropped = stdout.text()
	res.Stderr, res.StderrDropped = stderr.text()
	res.Files = s.collect(se.ov, p.collect)
	return res, nil
}

// interpEnded answers a run whose interpreter ended under it.
func (s *Server) interpEnded(it *pyInterp, res *RunResult) {
	if !res.ended(it.err) {
		res.Status, res.ExitCode, res.Reason = StatusError, 1, it.err.Error()
	}
	peak := it.stats.PeakMemory
	res.Usage.PeakMemory = &peak
	msg := "the session's Python interpreter ended, and its globals with it"
	if res.Reason != "" {
		msg = res.Reason + "; " + msg
	}
	res.Reason = msg
}
