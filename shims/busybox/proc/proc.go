package proc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/wasmbox/wasmbox/shims/abi"
)

// Cmd describes a program of the box to start.
type Cmd struct {
	// Path is the absolute box path of the program; the runner resolves
	// it as `wasmbox run` does (Wasm module, #! script, ...).
	Path string
	// Args is the argument list, Args[0] included; it is passed as is.
	Args []string
	// Env holds the child's KEY=VALUE pairs; nothing is inherited.
	Env []string
	// Dir is the child's absolute working directory; the runner also
	// gives it to the child as PWD.
	Dir string

	// Stdin, Stdout and Stderr are the child's standard streams. The
	// guest's own os.Stdin (for Stdin) and os.Stdout or os.Stderr (for
	// the outputs) are shared with the child: no copy through this
	// process. Nil means nothing: stdin at end of file, output
	// discarded. Anything else is connected through a pipe that a
	// goroutine of this process pumps.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// ErrNotFound and ErrCannotExecute classify a *StartError with errors.Is.
// A shell exits 127 for the first and 126 for the second.
var (
	ErrNotFound      = errors.New("not found")
	ErrCannotExecute = errors.New("cannot execute")
)

// StartError reports that the runner refused to start a program.
type StartError struct {
	Path  string
	Errno Errno
	// Msg is the runner's explanation (the ABI's last_error); it may be
	// empty.
	Msg string
}

func (e *StartError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Errno)
}

func (e *StartError) Unwrap() error { return e.Errno }

// Is matches ErrNotFound (ENOENT) and ErrCannotExecute (any other errno
// but ENOSYS, which means there is no host module at all).
func (e *StartError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Errno == ENOENT
	case ErrCannotExecute:
		return e.Errno != ENOENT && e.Errno != ENOSYS
	}
	return false
}

// ExitCode is the status a shell reports for the failure: 127 when the
// program was not found, 126 otherwise.
func (e *StartError) ExitCode() int {
	if e.Errno == ENOENT {
		return 127
	}
	return 126
}

// Stdio values of the spawn request (ABI.md).
const (
	stdioPipe = abi.StdioPipe
	stdioNone = abi.StdioNull
)

type spawnRequest = abi.SpawnRequest

// Process is a started child. Its methods may be called from several
// goroutines.
type Process struct {
	pid uint32

	// mu serializes the host calls naming pid with its release by a
	// successful wait, so that no goroutine uses a pid the runner may
	// have given to another child.
	mu       sync.Mutex
	released bool
	status   int
	waitErr  error

	outputs   sync.WaitGroup // the stdout and stderr pumps
	pumpErrMu sync.Mutex
	pumpErr   error
	stopKill  func() bool // stops the context watcher
	waitOnce  sync.Once
}

// Start starts c.Path as a child of this process. When ctx is done before
// the child ends, the child is killed. A failure of the runner to start
// the program is a *StartError.
func Start(ctx context.Context, c *Cmd) (*Process, error) {
	req := spawnRequest{
		Path: c.Path,
		Argv: c.Args,
		Env:  c.Env,
		Dir:  c.Dir,
		Stdio: [3]int{
			readerStdio(c.Stdin),
			writerStdio(c.Stdout),
			writerStdio(c.Stderr),
		},
	}
	if req.Argv == nil {
		req.Argv = []string{c.Path}
	}
	if req.Env == nil {
		req.Env = []string{}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", c.Path, err)
	}
	pid, e := sys.spawn(b)
	if e != 0 {
		if e == ENOSYS {
			return nil, fmt.Errorf("starting %s: %w", c.Path, e)
		}
		return nil, &StartError{Path: c.Path, Errno: e, Msg: sys.lastError()}
	}
	p := &Process{pid: pid}
	if req.Stdio[0] == stdioPipe {
		go p.pumpIn(c.Stdin)
	}
	if req.Stdio[1] == stdioPipe {
		p.outputs.Add(1)
		go p.pumpOut(1, c.Stdout)
	}
	if req.Stdio[2] == stdioPipe {
		p.outputs.Add(1)
		go p.pumpOut(2, c.Stderr)
	}
	p.stopKill = context.AfterFunc(ctx, func() { p.Kill() })
	return p, nil
}

// Pid is the child's process id in the box.
func (p *Process) Pid() int { return int(p.pid) }

// Wait waits for the child's output to be copied and for the child to end,
// and returns its exit status (0-255; 137 when killed). The error is
// non-nil when waiting failed or when the child's output could not be
// written (then the status is still valid). Later calls return the same.
func (p *Process) Wait() (int, error) {
	p.waitOnce.Do(p.wait)
	return p.status, p.waitErr
}

func (p *Process) wait() {
	p.outputs.Wait()
	var b backoff
	for {
		p.mu.Lock()
		status, e := sys.wait(p.pid)
		if e != EAGAIN {
			p.released = true
		}
		p.mu.Unlock()
		if e == EAGAIN {
			b.sleep()
			continue
		}
		p.stopKill()
		if e != 0 {
			p.status, p.waitErr = 1, fmt.Errorf("waiting for pid %d: %w", p.pid, e)
			return
		}
		p.status = int(status)
		p.pumpErrMu.Lock()
		p.waitErr = p.pumpErr
		p.pumpErrMu.Unlock()
		return
	}
}

// Kill ends the child (and its own children). Killing a child that has
// ended is not an error.
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.released {
		return nil
	}
	if e := sys.kill(p.pid); e != 0 {
		return fmt.Errorf("killing pid %d: %w", p.pid, e)
	}
	return nil
}

// call runs f, a host call naming p.pid, unless the pid was released; it
// reports whether f ran.
func (p *Process) call(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.released {
		return false
	}
	f()
	return true
}

func (p *Process) setPumpErr(err error) {
	p.pumpErrMu.Lock()
	defer p.pumpErrMu.Unlock()
	if p.pumpErr == nil {
		p.pumpErr = err
	}
}

// pumpIn copies r to the child's stdin pipe, then closes it. It stops
// early when the child ends or closes its stdin (EPIPE); it may stay
// blocked in r.Read after the child ended, as os/exec's copier does.
func (p *Process) pumpIn(r io.Reader) {
	defer p.call(func() { sys.close(p.pid, 0) })
	buf := make([]byte, 32<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 && !p.writeAll(buf[:n]) {
			return
		}
		if rerr != nil {
			return
		}
	}
}

func (p *Process) writeAll(b []byte) bool {
	var bo backoff
	for len(b) > 0 {
		var n int
		var e Errno
		if !p.call(func() { n, e = sys.write(p.pid, b) }) {
			return false
		}
		switch {
		case e == EAGAIN:
			bo.sleep()
		case e != 0:
			return false // EPIPE: the child does not read any more
		default:
			b = b[n:]
			bo.reset()
		}
	}
	return true
}

// pumpOut copies the child's stream (1 or 2) to w until end of file. When
// w fails, the pipe is closed so that the child's next writes fail with
// EPIPE, as a broken pipe would.
func (p *Process) pumpOut(stream int32, w io.Writer) {
	defer p.outputs.Done()
	buf := make([]byte, 32<<10)
	var bo backoff
	for {
		// No lock: the pid is released only after the pumps are done.
		n, e := sys.read(p.pid, stream, buf)
		switch {
		case e == EAGAIN:
			bo.sleep()
			continue
		case e != 0:
			p.setPumpErr(fmt.Errorf("reading output of pid %d: %w", p.pid, e))
			return
		case n == 0:
			return
		}
		bo.reset()
		if _, err := w.Write(buf[:n]); err != nil {
			sys.close(p.pid, stream)
			if !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, os.ErrClosed) {
				p.setPumpErr(fmt.Errorf("copying output of pid %d: %w", p.pid, err))
			}
			return
		}
	}
}

// backoff sleeps between retries of a call that returned EAGAIN: 20µs,
// doubling up to 2ms, from the start again after progress.
type backoff struct{ d time.Duration }

const (
	minBackoff = 20 * time.Microsecond
	maxBackoff = 2 * time.Millisecond
)

func (b *backoff) sleep() {
	if b.d == 0 {
		b.d = minBackoff
	}
	time.Sleep(b.d)
	b.d = min(2*b.d, maxBackoff)
}

func (b *backoff) reset() { b.d = 0 }

// readerStdio is the spawn stdio value for a child's stdin.
func readerStdio(r io.Reader) int {
	if r == nil {
		return stdioNone
	}
	if f, ok := r.(*os.File); ok && fileFd(f) == 0 {
		return 0
	}
	return stdioPipe
}

// writerStdio is the spawn stdio value for a child's stdout or stderr.
func writerStdio(w io.Writer) int {
	if w == nil {
		return stdioNone
	}
	if f, ok := w.(*os.File); ok {
		if fd := fileFd(f); fd == 1 || fd == 2 {
			return fd
		}
	}
	return stdioPipe
}

// fileFd returns f's descriptor, or -1. Unlike f.Fd, it leaves f in
// non-blocking mode when it was.
func fileFd(f *os.File) int {
	if f == nil {
		return -1
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1
	}
	return fd
}

// BeginTask counts work the calling program runs in-process as if it
// were a child process (the shell runs the multi-call applets so), so the
// box's process limit bounds it as it would a spawn. Past the limit the
// runner ends the box. Each BeginTask that returns nil needs an EndTask.
// Outside a box it does nothing.
func BeginTask() error {
	if e := sys.task(1); e != 0 && e != ENOSYS {
		return e
	}
	return nil
}

// EndTask ends what BeginTask counted.
func EndTask() { sys.task(-1) }

// IDs returns the user and group the box runs as (the image's USER, or
// run --user). Outside a box, or under a runner without the call, it
// returns an error.
func IDs() (uid, gid uint32, err error) {
	uid, gid, e := sys.ids()
	if e != 0 {
		return 0, 0, e
	}
	return uid, gid, nil
}
