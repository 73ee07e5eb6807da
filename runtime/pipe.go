package runtime

import (
	"io"
	"sync"
	"syscall"
)

// pipeSize is how much a pipe between a parent and a child buffers, like
// Linux's default pipe capacity.
const pipeSize = 64 << 10

// pipe connects a child instance (which blocks, in its own goroutine) to
// its parent guest (which must never block inside a host call: it polls
// with tryRead and tryWrite).
type pipe struct {
	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte
	wclosed bool // no more data will come
	rclosed bool // nobody reads any more
}

func newPipe() *pipe {
	p := &pipe{}
	p.cond.L = &p.mu
	return p
}

// Write blocks while the pipe is full; it fails once the reader is gone.
func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for len(b) > 0 {
		for len(p.buf) >= pipeSize && !p.rclosed {
			p.cond.Wait()
		}
		if p.rclosed {
			// EPIPE reaches the guest's fd_write as EPIPE.
			return n, syscall.EPIPE
		}
		k := min(len(b), pipeSize-len(p.buf))
		p.buf = append(p.buf, b[:k]...)
		b = b[k:]
		n += k
		p.cond.Broadcast()
	}
	return n, nil
}

// Read blocks while the pipe is empty and its writer may still write.
func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.wclosed {
		p.cond.Wait()
	}
	if len(p.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	p.cond.Broadcast()
	return n, nil
}

// tryRead is Read that does not wait: again reports an empty pipe whose
// writer may still write.
func (p *pipe) tryRead(b []byte) (n int, again bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		return 0, !p.wclosed
	}
	n = copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	p.cond.Broadcast()
	return n, false
}

// tryWrite is Write that does not wait: again reports a full pipe.
func (p *pipe) tryWrite(b []byte) (n int, again bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rclosed {
		return 0, false, io.ErrClosedPipe
	}
	k := min(len(b), pipeSize-len(p.buf))
	if k == 0 && len(b) > 0 {
		return 0, true, nil
	}
	p.buf = append(p.buf, b[:k]...)
	p.cond.Broadcast()
	return k, false, nil
}

func (p *pipe) closeWrite() {
	p.mu.Lock()
	p.wclosed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	p.rclosed = true
	p.buf = nil
	p.cond.Broadcast()
	p.mu.Unlock()
}

// lockedWriter serialises writes of several instances sharing a stream.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// endableReader reads r until done is closed; then a read in progress, and
// every later one, returns end of file. The read of r that was in progress
// goes on in the background and its data is dropped: the run has ended.
// It lets a run blocked reading its stdin end when its context does.
type endableReader struct {
	r    io.Reader
	done <-chan struct{}

	mu      sync.Mutex
	pending chan readResult // the read of r in progress, if any
	buf     []byte          // read from r and not given out yet
}

type readResult struct {
	data []byte
	err  error
}

func (e *endableReader) Read(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.buf) > 0 {
		n := copy(p, e.buf)
		e.buf = e.buf[n:]
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	if e.pending == nil {
		ch := make(chan readResult, 1)
		e.pending = ch
		size := len(p)
		go func() {
			b := make([]byte, size)
			n, err := e.r.Read(b)
			ch <- readResult{b[:n], err}
		}()
	}
	select {
	case res := <-e.pending:
		e.pending = nil
		n := copy(p, res.data)
		e.buf = res.data[n:]
		if len(e.buf) > 0 {
			return n, nil
		}
		return n, res.err
	case <-e.done:
		return 0, io.EOF
	}
}
