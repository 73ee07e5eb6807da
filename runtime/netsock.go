package runtime

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/wasmbox/wasmbox/shims/abi"
)

// A sock is one socket of a guest: a TCP connection the runner holds for
// it, one end of an in-memory pair (socketpair, or the box connecting to
// its own listener on loopback), or a listener fed by a published port.
// Data passes through bounded buffers: a reader goroutine fills rbuf from
// the host connection, a writer goroutine drains wbuf into it, so that a
// guest never blocks the runner and a non-blocking guest gets EAGAIN.
type sock struct {
	np     *netProc // whose waiters a change wakes (nil while queued for accept)
	family int

	// mu guards the socket; the two ends of an in-memory pair share one,
	// so that neither locks the other's (two processes write to each
	// other at once).
	mu       *sync.Mutex
	state    sockState
	nonblock bool
	local    netip.AddrPort
	remote   netip.AddrPort
	connErr  abi.Errno // outcome of a non-blocking connect, until SO_ERROR reads it
	opts     map[uint32]uint32

	conn  net.Conn // the host connection; nil for an in-memory end
	mem   *sock    // the other end of an in-memory pair
	room  chan struct{}
	kick  chan struct{}
	rbuf  []byte
	reof  bool      // nothing more will come (the peer shut down writing)
	rerr  abi.Errno // the connection failed (ECONNRESET ...)
	rshut bool      // shut down for reading
	wbuf  []byte
	wshut bool      // shut down for writing
	werr  abi.Errno // sending failed
	done  bool      // the writer goroutine flushed and closed conn

	port    uint16  // bound box port (listeners)
	backlog int     // listening: queue bound
	queue   []*sock // listening: connections waiting for accept
}

type sockState int

const (
	sockNew sockState = iota
	sockConnecting
	sockConnected
	sockBound
	sockListening
	sockClosed
)

// sockBufSize bounds each of a socket's two buffers; sockCharge is what a
// socket counts against Limits.Memory (both buffers and the goroutines).
const (
	sockBufSize = 64 << 10
	sockCharge  = 2*sockBufSize + 32<<10
)

func newSock(np *netProc, family int) *sock {
	return &sock{np: np, family: family, mu: new(sync.Mutex), room: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
}

// changed wakes whoever waits on the socket's process.
func (s *sock) changed() {
	if np := s.np; np != nil {
		np.wake.wake()
	}
}

// start runs the goroutines of a connected host connection.
func (s *sock) start(c net.Conn) {
	s.conn = c
	s.state = sockConnected
	if la, ok := c.LocalAddr().(*net.TCPAddr); ok {
		s.local = la.AddrPort()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if v, ok := s.opts[abi.OptNoDelay]; ok {
			_ = tc.SetNoDelay(v != 0)
		}
		if v, ok := s.opts[abi.OptKeepAlive]; ok {
			_ = tc.SetKeepAlive(v != 0)
		}
	}
	go s.reader()
	go s.writer()
}

func (s *sock) reader() {
	buf := make([]byte, 16<<10)
	for {
		s.mu.Lock()
		for len(s.rbuf) >= sockBufSize && s.state != sockClosed {
			s.mu.Unlock()
			<-s.room
			s.mu.Lock()
		}
		closed := s.state == sockClosed
		s.mu.Unlock()
		if closed {
			return
		}
		n, err := s.conn.Read(buf[:min(len(buf), sockBufSize)])
		s.mu.Lock()
		s.rbuf = append(s.rbuf, buf[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.reof = true
			} else if s.state != sockClosed {
				s.rerr = connErrno(err)
			}
		}
		s.mu.Unlock()
		s.changed()
		if err != nil {
			return
		}
	}
}

func (s *sock) writer() {
	for {
		s.mu.Lock()
		for len(s.wbuf) == 0 && !s.wshut && s.state != sockClosed {
			s.mu.Unlock()
			<-s.kick
			s.mu.Lock()
		}
		if len(s.wbuf) == 0 {
			// Shut down for writing, or closed with everything sent.
			closed := s.state == sockClosed
			s.mu.Unlock()
			if closed {
				s.conn.Close()
				s.mu.Lock()
				s.done = true
				s.mu.Unlock()
				return
			}
			if tc, ok := s.conn.(interface{ CloseWrite() error }); ok {
				_ = tc.CloseWrite()
			}
			s.mu.Lock()
			for s.state != sockClosed {
				s.mu.Unlock()
				<-s.kick
				s.mu.Lock()
			}
			s.mu.Unlock()
			s.conn.Close()
			return
		}
		chunk := s.wbuf[:min(len(s.wbuf), 16<<10)]
		closing := s.state == sockClosed
		s.mu.Unlock()
		if closing {
			// A closed socket's last data goes out in the background, as
			// the kernel sends it after close(2), but not for ever.
			_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		}
		n, err := s.conn.Write(chunk)
		s.mu.Lock()
		s.wbuf = s.wbuf[n:]
		if len(s.wbuf) == 0 {
			s.wbuf = nil
		}
		if err != nil {
			s.werr = connErrno(err)
			s.wbuf = nil
			s.wshut = true
		}
		s.mu.Unlock()
		s.changed()
		if err != nil {
			s.conn.Close()
			return
		}
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// connErrno is the errno of a failed dial, read or write on the host.
func connErrno(err error) abi.Errno {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return abi.ECONNREFUSED
	case errors.Is(err, syscall.ECONNRESET):
		return abi.ECONNRESET
	case errors.Is(err, syscall.EPIPE):
		return abi.EPIPE
	case errors.Is(err, syscall.ENETUNREACH):
		return abi.ENETUNREACH
	case errors.Is(err, syscall.EHOSTUNREACH):
		return abi.EHOSTUNREACH
	case errors.Is(err, syscall.ECONNABORTED):
		return abi.ECONNABORTED
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return abi.EADDRNOTAVAIL
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return abi.ETIMEDOUT
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return abi.ETIMEDOUT
	}
	return abi.ECONNRESET
}

// pair connects two in-memory sockets; b must not be in use yet (it takes
// a's lock).
func pair(a, b *sock) {
	b.mu = a.mu
	a.mem, b.mem = b, a
	a.state, b.state = sockConnected, sockConnected
}

// readable reports whether a read would not block (s.mu held).
func (s *sock) readable() bool {
	switch s.state {
	case sockListening:
		return len(s.queue) > 0
	case sockConnecting:
		return false
	case sockConnected:
		return len(s.rbuf) > 0 || s.reof || s.rerr != 0 || s.rshut
	}
	return true // a read fails at once
}

// writable reports whether a write would not block (s.mu held).
func (s *sock) writable() bool {
	switch s.state {
	case sockConnecting, sockListening:
		return false
	case sockConnected:
		if s.wshut || s.werr != 0 {
			return true
		}
		if s.mem != nil {
			return s.memRoom() > 0
		}
		return len(s.wbuf) < sockBufSize
	}
	return true // a write fails at once
}

// memRoom is the room in the other end's receive buffer (s.mu held).
func (s *sock) memRoom() int {
	o := s.mem
	if o.state == sockClosed || o.rshut {
		return sockBufSize
	}
	return sockBufSize - len(o.rbuf)
}

// read takes up to len(p) bytes (peek leaves them), or reports why none.
// It does not wait.
func (s *sock) read(p []byte, peek bool) (int, abi.Errno) {
	switch s.state {
	case sockConnecting, sockNew, sockBound:
		return 0, abi.ENOTCONN
	case sockListening:
		return 0, abi.ENOTCONN
	case sockClosed:
		return 0, abi.EBADF
	}
	if len(s.rbuf) > 0 && len(p) > 0 {
		n := copy(p, s.rbuf)
		if !peek {
			s.rbuf = s.rbuf[n:]
			if len(s.rbuf) == 0 {
				s.rbuf = nil
			}
			signal(s.room)
			if o := s.mem; o != nil {
				o.changed() // room to write again
			}
		}
		return n, 0
	}
	if s.rshut || s.reof || len(p) == 0 {
		return 0, 0
	}
	if e := s.rerr; e != 0 {
		s.rerr = 0
		s.reof = true
		return 0, e
	}
	return 0, abi.EAGAIN
}

// write sends what fits of p, or reports why nothing. It does not wait.
func (s *sock) write(p []byte) (int, abi.Errno) {
	switch s.state {
	case sockConnecting, sockNew, sockBound, sockListening:
		return 0, abi.ENOTCONN
	case sockClosed:
		return 0, abi.EBADF
	}
	if e := s.werr; e != 0 {
		return 0, e
	}
	if s.wshut {
		return 0, abi.EPIPE
	}
	if len(p) == 0 {
		return 0, 0
	}
	if o := s.mem; o != nil {
		if o.state == sockClosed || o.rshut {
			return 0, abi.EPIPE
		}
		n := min(len(p), sockBufSize-len(o.rbuf))
		if n <= 0 {
			return 0, abi.EAGAIN
		}
		o.rbuf = append(o.rbuf, p[:n]...)
		o.changed()
		return n, 0
	}
	n := min(len(p), sockBufSize-len(s.wbuf))
	if n <= 0 {
		return 0, abi.EAGAIN
	}
	s.wbuf = append(s.wbuf, p[:n]...)
	signal(s.kick)
	return n, 0
}

// shutdown shuts down reading (how&1), writing (how&2) or both.
func (s *sock) shutdown(how uint32) abi.Errno {
	if how == 0 || how > 3 {
		return abi.EINVAL
	}
	if s.state != sockConnected {
		return abi.ENOTCONN
	}
	if how&1 != 0 {
		s.rshut = true
		s.rbuf = nil
		signal(s.room)
	}
	if how&2 != 0 && !s.wshut {
		s.wshut = true
		if o := s.mem; o != nil {
			o.reof = true
			o.changed()
		}
		signal(s.kick)
	}
	return 0
}

// close closes the socket: a host connection's unsent data goes out in
// the background, a listener's waiting connections are refused, an
// in-memory peer sees end of stream and EPIPE.
func (s *sock) close() {
	s.mu.Lock()
	if s.state == sockClosed {
		s.mu.Unlock()
		return
	}
	prev := s.state
	s.state = sockClosed
	queue := s.queue
	s.queue = nil
	s.rbuf = nil
	if o := s.mem; o != nil {
		o.reof = true
		if o.werr == 0 {
			o.werr = abi.EPIPE
		}
		o.changed()
	}
	s.mu.Unlock()
	signal(s.room)
	signal(s.kick)
	for _, q := range queue {
		q.close()
	}
	if prev == sockListening && s.np != nil {
		s.np.run.unlisten(s)
	}
}
