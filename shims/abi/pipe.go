package abi

import (
	"io"
	"sync"
	"syscall"
)

// PipeSize is how much a pipe buffers by default, like Linux's default
// pipe capacity.
const PipeSize = 64 << 10

// Pipe connects a child (which blocks, in its own goroutine, in Read and
// Write) to its parent guest, which must never block inside a host call:
// it polls with TryRead and TryWrite, which give EAGAIN instead.
type Pipe struct {
	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte
	size    int
	wclosed bool // no more data will come
	rclosed bool // nobody reads any more
}

// NewPipe returns a pipe that buffers size bytes (PipeSize if size <= 0).
func NewPipe(size int) *Pipe {
	if size <= 0 {
		size = PipeSize
	}
	p := &Pipe{size: size}
	p.cond.L = &p.mu
	return p
}

// Write blocks while the pipe is full; it fails with EPIPE once the reader
// is gone (so a guest's fd_write sees EPIPE).
func (p *Pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for len(b) > 0 {
		for len(p.buf) >= p.size && !p.rclosed {
			p.cond.Wait()
		}
		if p.rclosed {
			return n, syscall.EPIPE
		}
		k := min(len(b), p.size-len(p.buf))
		p.buf = append(p.buf, b[:k]...)
		b = b[k:]
		n += k
		p.cond.Broadcast()
	}
	return n, nil
}

// Read blocks while the pipe is empty and its writer may still write.
func (p *Pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.wclosed {
		p.cond.Wait()
	}
	if len(p.buf) == 0 {
		return 0, io.EOF
	}
	return p.take(b), nil
}

func (p *Pipe) take(b []byte) int {
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	p.cond.Broadcast()
	return n
}

// TryRead is Read that does not wait: EAGAIN for an empty pipe whose
// writer may still write; 0 bytes and no error is end of file.
func (p *Pipe) TryRead(b []byte) (int, Errno) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		if p.wclosed {
			return 0, ESUCCESS
		}
		return 0, EAGAIN
	}
	return p.take(b), ESUCCESS
}

// TryWrite is Write that does not wait: EAGAIN for a full pipe, EPIPE once
// the reader is gone.
func (p *Pipe) TryWrite(b []byte) (int, Errno) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rclosed {
		return 0, EPIPE
	}
	k := min(len(b), p.size-len(p.buf))
	if k == 0 && len(b) > 0 {
		return 0, EAGAIN
	}
	p.buf = append(p.buf, b[:k]...)
	p.cond.Broadcast()
	return k, ESUCCESS
}

// CloseWrite says no more data will come: the reader sees end of file
// once the pipe is empty.
func (p *Pipe) CloseWrite() {
	p.mu.Lock()
	p.wclosed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// CloseRead says nobody reads any more: buffered data is dropped and
// writes fail with EPIPE.
func (p *Pipe) CloseRead() {
	p.mu.Lock()
	p.rclosed = true
	p.buf = nil
	p.cond.Broadcast()
	p.mu.Unlock()
}
