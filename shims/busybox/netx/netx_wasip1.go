//go:build wasip1

package netx

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/wasmbox/wasmbox/shims/abi"
)

//go:wasmimport wasmbox_net socket
//go:noescape
func netSocket(family, typ uint32, fdOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_net connect
//go:noescape
func netConnect(fd uint32, addr unsafe.Pointer) uint32

//go:wasmimport wasmbox_net bind
//go:noescape
func netBind(fd uint32, addr unsafe.Pointer) uint32

//go:wasmimport wasmbox_net listen
func netListen(fd uint32, backlog uint32) uint32

//go:wasmimport wasmbox_net getaddr
//go:noescape
func netGetaddr(fd, which uint32, addr unsafe.Pointer) uint32

//go:wasmimport wasmbox_net getopt
//go:noescape
func netGetopt(fd, opt uint32, valOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_net setopt
func netSetopt(fd, opt, val uint32) uint32

//go:wasmimport wasmbox_net resolve
//go:noescape
func netResolve(name unsafe.Pointer, nameLen, family uint32, out unsafe.Pointer, outMax uint32, nOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_net last_error
//go:noescape
func netLastError(buf unsafe.Pointer, bufLen uint32, lenOut unsafe.Pointer) uint32

// lastError is the runner's message about the call that just failed.
func lastError() string {
	buf := make([]byte, 1024)
	var n uint32
	if netLastError(unsafe.Pointer(&buf[0]), uint32(len(buf)), unsafe.Pointer(&n)) != 0 {
		return ""
	}
	return string(buf[:min(int(n), len(buf))])
}

// failed is the error of a call that returned errno e; it must be called
// before any other call of the module, which would replace the message.
func failed(e uint32) error {
	if abi.Errno(e) == abi.ENOSYS {
		return errNoNetwork
	}
	return &hostError{errno: syscall.Errno(e), msg: lastError()}
}

const maxAddrs = 16

func resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	if name == "" {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	var out [maxAddrs][abi.AddrSize]byte
	var n uint32
	for backoff := time.Millisecond; ; backoff = min(2*backoff, 100*time.Millisecond) {
		e := netResolve(unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)), abi.FamilyAny,
			unsafe.Pointer(&out[0]), maxAddrs, unsafe.Pointer(&n))
		switch abi.Errno(e) {
		case 0:
			var addrs []netip.Addr
			for _, rec := range out[:min(int(n), maxAddrs)] {
				if ap, ok := abi.DecodeAddr(rec); ok {
					addrs = append(addrs, ap.Addr())
				}
			}
			if len(addrs) == 0 {
				return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
			}
			return addrs, nil
		case abi.EAGAIN:
			// A temporary failure of the runner's resolver: wait a
			// little, as a resolver's retry would, until ctx ends.
			msg := lastError()
			select {
			case <-ctx.Done():
				if msg == "" {
					msg = "temporary failure in name resolution"
				}
				return nil, &net.DNSError{Err: msg, Name: name, IsTemporary: true, IsTimeout: true}
			case <-time.After(backoff):
			}
		default:
			err := failed(e)
			return nil, &net.DNSError{Err: err.Error(), Name: name, IsNotFound: abi.Errno(e) == abi.ENOENT}
		}
	}
}

func dial(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
	raddr := net.TCPAddrFromAddrPort(ap)
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err} }
	fd, err := newSocket(ap.Addr())
	if err != nil {
		return nil, opErr(err)
	}
	rec := abi.EncodeAddr(ap)
	e := netConnect(fd, unsafe.Pointer(&rec))
	if e != 0 && abi.Errno(e) != abi.EINPROGRESS {
		err := failed(e)
		syscall.Close(int(fd))
		return nil, opErr(err)
	}
	c, err := fileConn(fd)
	if err != nil {
		return nil, opErr(err)
	}
	if e != 0 {
		if err := waitConnected(ctx, c); err != nil {
			c.Close()
			return nil, opErr(err)
		}
	}
	return &conn{TCPConn: c, laddr: sockAddr(fd, 0), raddr: raddr}, nil
}

// newSocket makes a non-blocking stream socket of a's family.
func newSocket(a netip.Addr) (uint32, error) {
	family := uint32(abi.FamilyIPv6)
	if a.Is4() {
		family = abi.FamilyIPv4
	}
	var fd uint32
	if e := netSocket(family, abi.TypeStream, unsafe.Pointer(&fd)); e != 0 {
		return 0, failed(e)
	}
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		syscall.Close(int(fd))
		return 0, err
	}
	return fd, nil
}

// fileConn hands the socket fd to Go's net package, which polls it with
// poll_oneoff as it does any descriptor (fdstat says SOCKET_STREAM).
func fileConn(fd uint32) (*net.TCPConn, error) {
	f := os.NewFile(uintptr(fd), "socket")
	c, err := net.FileConn(f)
	f.Close() // the conn holds its own reference
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, syscall.ENOTSOCK
	}
	return tc, nil
}

// aLongTimeAgo is a deadline that has passed: it wakes a waiting call.
var aLongTimeAgo = time.Unix(1, 0)

// waitConnected waits until a non-blocking connect finishes (the socket
// is writable, ABI.md) and returns its outcome (SO_ERROR), or ctx's
// error when ctx ends first.
func waitConnected(ctx context.Context, c *net.TCPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		c.SetWriteDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(aLongTimeAgo) })
	var connErr error
	werr := rc.Write(func(sfd uintptr) bool {
		var soErr uint32
		if e := netGetopt(uint32(sfd), abi.OptError, unsafe.Pointer(&soErr)); e != 0 {
			connErr = failed(e)
			return true
		}
		if soErr != 0 {
			connErr = &hostError{errno: syscall.Errno(soErr)}
			return true
		}
		// Still connecting while the peer is unknown.
		var rec [abi.AddrSize]byte
		switch e := netGetaddr(uint32(sfd), 1, unsafe.Pointer(&rec)); abi.Errno(e) {
		case 0:
			return true
		case abi.ENOTCONN:
			return false
		default:
			connErr = failed(e)
			return true
		}
	})
	if !stop() || ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errTimeout
		}
		return ctx.Err()
	}
	c.SetWriteDeadline(time.Time{})
	if werr != nil {
		var oe *net.OpError
		if errors.As(werr, &oe) {
			werr = oe.Err
		}
		return werr
	}
	return connErr
}

// errTimeout is a connect that ran out of time: a net.Error whose
// Timeout is true, as Go's own dialer returns.
var errTimeout error = &timeoutError{}

type timeoutError struct{}

func (*timeoutError) Error() string   { return "i/o timeout" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return true }
func (*timeoutError) Is(err error) bool {
	return err == context.DeadlineExceeded
}

// sockAddr is the socket's own (which 0) or peer's (1) address, nil if
// the runner does not say.
func sockAddr(fd uint32, which uint32) net.Addr {
	var rec [abi.AddrSize]byte
	if netGetaddr(fd, which, unsafe.Pointer(&rec)) != 0 {
		return &net.TCPAddr{}
	}
	ap, ok := abi.DecodeAddr(rec)
	if !ok {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(ap)
}

// conn is a connected socket with its addresses: Go's net package does
// not know them for a descriptor it was handed (WASI has no getpeername).
type conn struct {
	*net.TCPConn
	laddr, raddr net.Addr
}

func (c *conn) LocalAddr() net.Addr  { return c.laddr }
func (c *conn) RemoteAddr() net.Addr { return c.raddr }

func listen(ctx context.Context, ap netip.AddrPort) (net.Listener, error) {
	laddr := net.TCPAddrFromAddrPort(ap)
	opErr := func(err error) error { return &net.OpError{Op: "listen", Net: "tcp", Addr: laddr, Err: err} }
	fd, err := newSocket(ap.Addr())
	if err != nil {
		return nil, opErr(err)
	}
	netSetopt(fd, abi.OptReuseAddr, 1)
	rec := abi.EncodeAddr(ap)
	if e := netBind(fd, unsafe.Pointer(&rec)); e != 0 {
		err := failed(e)
		syscall.Close(int(fd))
		return nil, opErr(err)
	}
	if e := netListen(fd, 128); e != 0 {
		err := failed(e)
		syscall.Close(int(fd))
		return nil, opErr(err)
	}
	f := os.NewFile(uintptr(fd), "socket")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, opErr(err)
	}
	tl, ok := l.(*net.TCPListener)
	if !ok {
		l.Close()
		return nil, opErr(syscall.ENOTSOCK)
	}
	return &listener{TCPListener: tl, addr: sockAddr(fd, 0)}, nil
}

// listener gives accepted connections their addresses.
type listener struct {
	*net.TCPListener
	addr net.Addr
}

func (l *listener) Addr() net.Addr { return l.addr }

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.AcceptTCP()
	if err != nil {
		return nil, err
	}
	var fd uint32
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(s uintptr) { fd = uint32(s) })
	}
	return &conn{TCPConn: c, laddr: sockAddr(fd, 0), raddr: sockAddr(fd, 1)}, nil
}
