package runtime

import (
	"io"
	"sync"
)

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
