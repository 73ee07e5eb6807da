package netx

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
)

// Resolve returns the addresses of name (a host name or a numeric
// address), IPv4 first. A name that does not resolve, or that the
// network policy does not grant, is a *net.DNSError.
func Resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	addrs, err := resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	// IPv4 first: boxes and the networks they reach are mostly IPv4.
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	return append(v4, v6...), nil
}

// DialContext connects to address ("host:port", a name or a numeric
// address) over network "tcp", "tcp4" or "tcp6", trying each address of
// the host in turn until one connects or ctx ends. It has the signature
// of net.Dialer.DialContext, for http.Transport.
func DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	family, err := tcpFamily(network)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	host, port, err := splitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	addrs, err := Resolve(ctx, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var first error
	tried := 0
	for _, a := range addrs {
		if (family == 4 && !a.Is4()) || (family == 6 && a.Is4()) {
			continue
		}
		tried++
		c, err := dial(ctx, netip.AddrPortFrom(a, port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if tried == 0 {
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: &net.AddrError{Err: "no suitable address found", Addr: host}}
	}
	return nil, first
}

// Listen listens on address (":PORT", "0.0.0.0:PORT", "127.0.0.1:PORT")
// over network "tcp", "tcp4" or "tcp6". In a box only a port published
// for the run may be listened on.
func Listen(ctx context.Context, network, address string) (net.Listener, error) {
	family, err := tcpFamily(network)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	host, port, err := splitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	var a netip.Addr
	switch {
	case host == "" && family == 6:
		a = netip.IPv6Unspecified()
	case host == "":
		a = netip.IPv4Unspecified()
	default:
		if a, err = netip.ParseAddr(host); err != nil {
			return nil, &net.OpError{Op: "listen", Net: network,
				Err: &net.AddrError{Err: "not a numeric address", Addr: host}}
		}
	}
	return listen(ctx, netip.AddrPortFrom(a.Unmap(), port))
}

func tcpFamily(network string) (int, error) {
	switch network {
	case "tcp":
		return 0, nil
	case "tcp4":
		return 4, nil
	case "tcp6":
		return 6, nil
	}
	return 0, net.UnknownNetworkError(network)
}

func splitHostPort(address string) (string, uint16, error) {
	host, ps, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		if p, err := net.LookupPort("tcp", ps); err == nil {
			return host, uint16(p), nil
		}
		return "", 0, &net.AddrError{Err: "invalid port", Addr: address}
	}
	return host, uint16(p), nil
}

// errNoNetwork is the error of a runner without wasmbox_net.
var errNoNetwork = errors.New("this runner has no network (wasmbox_net missing)")

// hostError is an errno from the runner with its message (last_error),
// which names the policy when the policy refused.
type hostError struct {
	errno error // a syscall.Errno
	msg   string
}

func (e *hostError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.errno.Error()
}

func (e *hostError) Unwrap() error { return e.errno }

// Timeout reports whether the runner gave up waiting (ETIMEDOUT).
func (e *hostError) Timeout() bool {
	t, ok := e.errno.(interface{ Timeout() bool })
	return ok && t.Timeout()
}
