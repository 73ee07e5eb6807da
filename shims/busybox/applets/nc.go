package applets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/wasmbox/wasmbox/shims/busybox/netx"
)

func init() { register("nc", nc) }

var ncSpec = optSpec{short: "lp:vzw:nq:i:"}

// ncOpts is a parsed nc command line.
type ncOpts struct {
	listen  bool
	port    string // -p
	verbose int
	zero    bool
	wait    time.Duration // -w: connect and idle timeout
	quit    time.Duration // -q: after stdin's end, -1 never
	host    string
	ports   []uint16
}

func parseNc(args []string) (*ncOpts, string) {
	o, operands, err := ncSpec.parse(args)
	if err != nil {
		return nil, err.Error()
	}
	n := &ncOpts{listen: o.has("l"), port: o.str("p", ""), verbose: o.count("v"), zero: o.has("z"), quit: -1}
	for _, k := range []string{"w", "q"} {
		if v, ok := o.val(k); ok {
			d, good := parseSeconds(v)
			if !good {
				return nil, fmt.Sprintf("invalid number '%s'", v)
			}
			if k == "w" {
				n.wait = d
			} else {
				n.quit = d
			}
		}
	}
	if n.listen {
		if n.port == "" && len(operands) > 0 {
			n.port = operands[len(operands)-1]
			operands = operands[:len(operands)-1]
		}
		if len(operands) > 0 {
			n.host = operands[0]
		}
		if _, err := strconv.ParseUint(n.port, 10, 16); err != nil {
			return nil, "listen needs -p PORT"
		}
		return n, ""
	}
	if len(operands) < 2 {
		return nil, "missing HOST PORT"
	}
	n.host = operands[0]
	for _, p := range operands[1:] {
		ports, ok := parsePorts(p)
		if !ok {
			return nil, fmt.Sprintf("bad port '%s'", p)
		}
		n.ports = append(n.ports, ports...)
	}
	if !n.zero && len(n.ports) > 1 {
		return nil, "one port only, without -z"
	}
	return n, ""
}

// parsePorts parses a port or a range "LO-HI".
func parsePorts(s string) ([]uint16, bool) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || a == 0 {
		return nil, false
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return nil, false
		}
	}
	var ports []uint16
	for p := a; p <= b; p++ {
		ports = append(ports, uint16(p))
	}
	return ports, true
}

// nc connects to HOST PORT (or listens, -l -p PORT) and copies stdin to
// the connection and the connection to stdout, as busybox's nc. -z only
// checks that the ports accept connections.
func nc(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, msg := parseNc(args[1:])
	if o == nil {
		return c.fail(1, "%s", msg)
	}
	if o.listen {
		return c.ncListen(o)
	}
	status := 0
	for _, port := range o.ports {
		addr := net.JoinHostPort(o.host, strconv.Itoa(int(port)))
		dctx := ctx
		cancel := func() {}
		if o.wait > 0 {
			dctx, cancel = context.WithTimeout(ctx, o.wait)
		}
		conn, err := netx.DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			status = 1
			f, detail := classify(err)
			switch {
			case f == failResolve:
				if detail != "" && detail != "no such host" {
					c.warnf("bad address '%s': %s", o.host, detail)
				} else {
					c.warnf("bad address '%s'", o.host)
				}
				return c.finish(1)
			case o.zero && o.verbose == 0:
				continue // -z: the status says it
			case f == failTimeout:
				detail = "Connection timed out"
			}
			c.warnf("can't connect to remote host (%s): %s", o.host, detail)
			if !o.zero {
				return c.finish(1)
			}
			continue
		}
		if o.verbose > 0 {
			c.out.Flush()
			fmt.Fprintf(c.stderr(), "%s (%s) open\n", o.host, conn.RemoteAddr())
		}
		if o.zero {
			conn.Close()
			continue
		}
		return c.finish(c.ncPump(o, conn))
	}
	return c.finish(status)
}

func (c *cmd) ncListen(o *ncOpts) int {
	l, err := netx.Listen(c.ctx, "tcp", net.JoinHostPort(o.host, o.port))
	if err != nil {
		_, detail := classify(err)
		return c.fail(1, "bind: %s", detail)
	}
	if o.verbose > 0 {
		c.out.Flush()
		fmt.Fprintf(c.stderr(), "listening on %s ...\n", l.Addr())
	}
	type accepted struct {
		conn net.Conn
		err  error
	}
	ch := make(chan accepted, 1)
	go func() {
		conn, err := l.Accept()
		ch <- accepted{conn, err}
	}()
	var a accepted
	select {
	case a = <-ch:
	case <-c.ctx.Done():
		l.Close()
		return 130
	}
	l.Close()
	if a.err != nil {
		return c.fail(1, "accept: %s", errText(a.err))
	}
	if o.verbose > 0 {
		c.out.Flush()
		fmt.Fprintf(c.stderr(), "connect to %s from %s\n", a.conn.LocalAddr(), a.conn.RemoteAddr())
	}
	return c.ncPump(o, a.conn)
}

// ncPump copies stdin to conn and conn to stdout until the peer closes.
// At the end of stdin the connection is shut for writing (the peer sees
// its end), then nc waits for the peer, or -q seconds.
func (c *cmd) ncPump(o *ncOpts, conn net.Conn) int {
	defer conn.Close()
	go func() {
		_, err := io.Copy(conn, c.stdin())
		if err != nil {
			return
		}
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		if o.quit >= 0 {
			time.AfterFunc(o.quit, func() { conn.Close() })
		}
	}()
	stop := context.AfterFunc(c.ctx, func() { conn.Close() })
	defer stop()
	buf := make([]byte, 32<<10)
	for {
		if o.wait > 0 {
			conn.SetReadDeadline(time.Now().Add(o.wait))
		}
		n, err := conn.Read(buf)
		if n > 0 {
			c.out.Write(buf[:n])
			if c.out.Flush() != nil {
				return c.finish(0)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || c.ctx.Err() != nil {
				return 0
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0
			}
			return c.fail(1, "%s", errText(err))
		}
	}
}
