package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/shims/abi"
)

// The host side of the network ABI (shims/ABI.md): module wasmbox_net,
// and the WASI calls on the descriptors that are sockets.
//
// A socket is a descriptor of wazero's table like any other, so that
// guests number, select and close it as a file: the runner opens the
// box's root directory as a placeholder (through wazero's own path_open,
// counted against Limits.Files like any open) and serves every WASI call
// on that descriptor itself (netProc.serve), never wazero.

// netRun is what the processes of one run share of the network: the
// policy, the names they resolved, their listeners, the published ports.
type netRun struct {
	policy Network
	rs     *runState

	mu        sync.Mutex
	resolved  map[netip.Addr][]string // address -> granted names that resolved to it
	listeners map[uint16]*sock        // box port -> the box's listener
	hostLns   []net.Listener
	nextPort  uint16 // local ports of in-memory connections
}

// maxResolved bounds the addresses a run remembers names of.
const maxResolved = 4096

func newNetRun(policy *Network, rs *runState) *netRun {
	nr := &netRun{rs: rs, resolved: map[netip.Addr][]string{}, listeners: map[uint16]*sock{}, nextPort: 49152}
	if policy != nil {
		nr.policy = *policy
	}
	return nr
}

// publish opens the host's listeners of the published ports; each
// connection goes to the box's listener on its port, or is closed when
// the box listens on none.
func (nr *netRun) publish() error {
	for _, p := range nr.policy.Publish {
		ap := netip.AddrPortFrom(p.hostIP(), p.HostPort)
		ln, err := net.Listen("tcp", ap.String())
		if err != nil {
			nr.close()
			return fmt.Errorf("runtime: publish %v: %w", p, err)
		}
		nr.hostLns = append(nr.hostLns, ln)
		go nr.serveHost(ln, p.BoxPort)
	}
	return nil
}

func (nr *netRun) serveHost(ln net.Listener, port uint16) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		remote, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		nr.mu.Lock()
		l := nr.listeners[port]
		nr.mu.Unlock()
		if l == nil {
			nr.event(NetEvent{Op: "accept", Addr: remote.String(), Reason: fmt.Sprintf("the box listens on no socket of port %d", port)})
			c.Close()
			continue
		}
		q := newSock(l.np, l.family)
		l.mu.Lock()
		q.opts = maps.Clone(l.opts)
		l.mu.Unlock()
		q.mu.Lock()
		q.start(c)
		q.local = netip.AddrPortFrom(l.local.Addr(), port)
		q.remote = remote
		q.mu.Unlock()
		if !l.enqueue(q) {
			q.close()
		}
	}
}

// enqueue queues a connection for accept; false when the backlog is full
// or l no longer listens.
func (l *sock) enqueue(q *sock) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != sockListening || len(l.queue) >= l.backlog {
		return false
	}
	l.queue = append(l.queue, q)
	l.changed()
	return true
}

func (nr *netRun) close() {
	nr.mu.Lock()
	lns := nr.hostLns
	nr.hostLns = nil
	nr.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
}

func (nr *netRun) event(ev NetEvent) {
	if nr.policy.Observe == nil {
		return
	}
	ev.Time = time.Now().UTC()
	nr.policy.Observe(ev)
}

func (nr *netRun) published(port uint16) bool {
	for _, p := range nr.policy.Publish {
		if p.BoxPort == port {
			return true
		}
	}
	return false
}

func (nr *netRun) listen(port uint16, s *sock) bool {
	nr.mu.Lock()
	defer nr.mu.Unlock()
	if nr.listeners[port] != nil {
		return false
	}
	nr.listeners[port] = s
	return true
}

func (nr *netRun) unlisten(s *sock) {
	nr.mu.Lock()
	defer nr.mu.Unlock()
	if nr.listeners[s.port] == s {
		delete(nr.listeners, s.port)
	}
}

func (nr *netRun) bound(port uint16) bool {
	nr.mu.Lock()
	defer nr.mu.Unlock()
	return nr.listeners[port] != nil
}

// resolve resolves name under the policy for family (0 any, 4, 6).
func (nr *netRun) resolve(ctx context.Context, name string, family uint32) ([]netip.Addr, abi.Errno, string) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if a, err := netip.ParseAddr(name); err == nil && a.Zone() == "" {
		return familyOf([]netip.Addr{a.Unmap()}, family), 0, ""
	}
	if err := checkHostName(name); err != nil {
		return nil, abi.EINVAL, "resolve: " + err.Error()
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		// The box's own loopback (RFC 6761); connecting there is under
		// the policy like any address.
		return familyOf([]netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}, family), 0, ""
	}
	ok, reason := nr.policy.nameVerdict(name)
	if !ok {
		nr.event(NetEvent{Op: "resolve", Name: name, Reason: reason})
		return nil, abi.ENOENT, reason
	}
	addrs, errno, msg := nr.lookup(ctx, name, family)
	if errno != 0 {
		nr.event(NetEvent{Op: "resolve", Name: name, Reason: msg})
		return nil, errno, msg
	}
	var kept []netip.Addr
	var dropped []string
	for _, a := range addrs {
		if nr.policy.reachable(a) {
			kept = append(kept, a)
		} else {
			dropped = append(dropped, fmt.Sprintf("%v (%s)", a, specialAddress(a)))
		}
	}
	if len(kept) == 0 {
		msg := fmt.Sprintf("network policy: %s resolved only to %s, which no --network rule names", name, strings.Join(dropped, ", "))
		nr.event(NetEvent{Op: "resolve", Name: name, Reason: msg})
		return nil, abi.ENOENT, msg
	}
	nr.mu.Lock()
	for _, a := range kept {
		names, seen := nr.resolved[a]
		if (seen || len(nr.resolved) < maxResolved) && !slices.Contains(names, name) && len(names) < 16 {
			nr.resolved[a] = append(names, name)
		}
	}
	nr.mu.Unlock()
	ev := NetEvent{Op: "resolve", Name: name, Allowed: true, Reason: reason}
	for _, a := range kept {
		ev.Addrs = append(ev.Addrs, a.String())
	}
	nr.event(ev)
	return kept, 0, ""
}

// lookup asks Hosts, then DNS (the policy's server, else the host's).
func (nr *netRun) lookup(ctx context.Context, name string, family uint32) ([]netip.Addr, abi.Errno, string) {
	if as, ok := nr.policy.Hosts[name]; ok {
		if out := familyOf(as, family); len(out) > 0 {
			return out, 0, ""
		}
		return nil, abi.ENOENT, fmt.Sprintf("%s has no address of that family", name)
	}
	res := net.DefaultResolver
	if dns := nr.policy.DNS; dns != "" {
		res = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, dns)
		}}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nw := "ip"
	switch family {
	case abi.FamilyIPv4:
		nw = "ip4"
	case abi.FamilyIPv6:
		nw = "ip6"
	}
	addrs, err := res.LookupNetIP(ctx, nw, name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && (de.IsTemporary || de.IsTimeout) {
			return nil, abi.EAGAIN, fmt.Sprintf("resolve %s: %v", name, err)
		}
		return nil, abi.ENOENT, fmt.Sprintf("%s does not resolve", name)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Unmap())
	}
	if len(out) > 16 {
		out = out[:16]
	}
	return out, 0, ""
}

func familyOf(addrs []netip.Addr, family uint32) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if family == abi.FamilyAny || (family == abi.FamilyIPv4) == a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

// verdict decides a connection to ap.
func (nr *netRun) verdict(ap netip.AddrPort) (bool, string, string) {
	nr.mu.Lock()
	names := slices.Clone(nr.resolved[ap.Addr().Unmap()])
	nr.mu.Unlock()
	ok, reason := nr.policy.addrVerdict(ap, names)
	name := strings.Join(names, ",")
	nr.event(NetEvent{Op: "connect", Name: name, Addr: ap.String(), Allowed: ok, Reason: reason})
	return ok, reason, name
}

// waker wakes every waiter at once: a waiter takes the channel before it
// checks its condition, and any change after that closes it.
type waker struct {
	mu sync.Mutex
	ch chan struct{}
}

func (w *waker) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

func (w *waker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// netProc is the network side of one process: its sockets by descriptor.
type netProc struct {
	run  *netRun
	ctx  context.Context // the process's: dials end with it
	wake waker

	mu      sync.Mutex
	socks   map[int32]*sock
	lastErr string
	count   atomic.Int32 // len(socks), read without the lock
}

// netOf returns the process's network side, making it on first use.
func (p *process) netOf(ctx context.Context) *netProc {
	if np := p.net.Load(); np != nil {
		return np
	}
	np := &netProc{run: p.state.net, ctx: ctx, socks: map[int32]*sock{}}
	if np.run == nil {
		np.run = newNetRun(nil, p.state)
	}
	if p.net.CompareAndSwap(nil, np) {
		return np
	}
	return p.net.Load()
}

func (np *netProc) get(fd int32) *sock {
	if np == nil || np.count.Load() == 0 {
		return nil
	}
	np.mu.Lock()
	defer np.mu.Unlock()
	return np.socks[fd]
}

func (np *netProc) add(fd int32, s *sock) {
	np.mu.Lock()
	np.socks[fd] = s
	np.count.Store(int32(len(np.socks)))
	np.mu.Unlock()
}

func (np *netProc) take(fd int32) *sock {
	np.mu.Lock()
	defer np.mu.Unlock()
	s := np.socks[fd]
	delete(np.socks, fd)
	np.count.Store(int32(len(np.socks)))
	return s
}

func (np *netProc) fail(e abi.Errno, msg string) uint32 {
	np.mu.Lock()
	np.lastErr = msg
	np.mu.Unlock()
	return uint32(e)
}

// closeAll closes the process's sockets (its end).
func (np *netProc) closeAll() {
	np.mu.Lock()
	socks := np.socks
	np.socks = map[int32]*sock{}
	np.count.Store(0)
	np.mu.Unlock()
	for _, s := range socks {
		np.release(s)
	}
}

// release closes s and gives back what it counted.
func (np *netProc) release(s *sock) {
	s.close()
	rs := np.run.rs
	if rs.limits.Memory > 0 {
		rs.mem.Add(-sockCharge)
	}
	rs.hold(-sockCharge)
}

// charge counts a new socket's buffers against Limits.Memory.
func (np *netProc) charge() bool {
	rs := np.run.rs
	if lim := rs.limits.Memory; lim > 0 && rs.mem.Add(sockCharge) > lim {
		rs.mem.Add(-sockCharge)
		rs.end(CauseMemoryLimit, fmt.Sprintf("memory limit of %s reached (each socket's buffers count %s)", units.In(lim, units.MiB), units.In(sockCharge, units.KiB)))
		return false
	}
	rs.hold(sockCharge)
	return true
}

// wasiPathOpen is wazero's own path_open, which opens the placeholder of a
// new socket.
var wasiPathOpen api.GoModuleFunction

// rootFD is the box's root directory: the one preopen (moduleConfig).
const rootFD = 3

// newFD opens a descriptor for s in the caller's table and writes it at
// out (4 bytes of the caller's memory, used meanwhile for the path ".").
func (np *netProc) newFD(ctx context.Context, m api.Module, out uint32, s *sock) (int32, uint32) {
	if !np.charge() {
		checkAlive(ctx, m)
		return 0, uint32(abi.ENOMEM)
	}
	mem := m.Memory()
	if mem == nil || !mem.WriteByte(out, '.') {
		np.release(s)
		return 0, errnoFAULT
	}
	const oDirectory = 2
	stack := []uint64{rootFD, 0, uint64(out), 1, oDirectory, 0, 0, 0, uint64(out)}
	wasiPathOpen.Call(ctx, m, stack)
	checkAlive(ctx, m) // past the open file limit, the run ends here
	if stack[0] != 0 {
		np.release(s)
		return 0, np.fail(abi.EMFILE, fmt.Sprintf("socket: cannot open a descriptor (errno %d; the box's root descriptor 3 must stay open)", stack[0]))
	}
	fd, ok := mem.ReadUint32Le(out)
	if !ok {
		np.release(s)
		return 0, errnoFAULT
	}
	np.add(int32(fd), s)
	return int32(fd), 0
}

// instantiateNetModule instantiates wasmbox_net: one host function per
// function of the ABI (shims/ABI.md).
func instantiateNetModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.NetModuleName)
	for _, f := range []struct {
		name string
		fn   any
	}{
		{abi.NetSocket, netSocket},
		{abi.NetSocketpair, netSocketpair},
		{abi.NetConnect, netConnect},
		{abi.NetBind, netBind},
		{abi.NetListen, netListen},
		{abi.NetAccept, netAccept},
		{abi.NetGetaddr, netGetaddr},
		{abi.NetGetopt, netGetopt},
		{abi.NetSetopt, netSetopt},
		{abi.NetResolve, netResolve},
		{abi.NetLastError, netLastError},
	} {
		b.NewFunctionBuilder().WithFunc(f.fn).Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// caller is the process of a host call and its network side.
func caller(ctx context.Context, m api.Module) (*process, *netProc) {
	checkAlive(ctx, m)
	p := procFrom(ctx)
	if p == nil {
		return nil, nil
	}
	return p, p.netOf(ctx)
}

// callerSock is caller, and the caller's socket at fd (nil and the errno
// for a descriptor that is none).
func callerSock(ctx context.Context, m api.Module, fd uint32) (*netProc, *sock, uint32) {
	_, np := caller(ctx, m)
	if np == nil {
		return nil, nil, errnoBADF
	}
	if s := np.get(int32(fd)); s != nil {
		return np, s, 0
	}
	return np, nil, uint32(abi.ENOTSOCK)
}

func netSocket(ctx context.Context, m api.Module, family, typ, fdOut uint32) uint32 {
	_, np := caller(ctx, m)
	if np == nil {
		return errnoBADF
	}
	if family != abi.FamilyIPv4 && family != abi.FamilyIPv6 {
		return np.fail(abi.EAFNOSUPPORT, fmt.Sprintf("socket: family %d is not supported (4 or 6)", family))
	}
	if typ != abi.TypeStream {
		return np.fail(abi.EPROTONOSUPPORT, "socket: only stream (TCP) sockets are supported")
	}
	_, e := np.newFD(ctx, m, fdOut, newSock(np, int(family)))
	return e
}

func netSocketpair(ctx context.Context, m api.Module, fdsOut uint32) uint32 {
	_, np := caller(ctx, m)
	if np == nil {
		return errnoBADF
	}
	a, b := newSock(np, abi.FamilyIPv4), newSock(np, abi.FamilyIPv4)
	pair(a, b)
	fa, e := np.newFD(ctx, m, fdsOut, a)
	if e != 0 {
		return e
	}
	if _, e := np.newFD(ctx, m, fdsOut+4, b); e != 0 {
		np.closeFD(ctx, m, fa)
		return e
	}
	if !m.Memory().WriteUint32Le(fdsOut, uint32(fa)) {
		return errnoFAULT
	}
	return 0
}

// closeFD closes a socket's descriptor as fd_close would.
func (np *netProc) closeFD(ctx context.Context, m api.Module, fd int32) {
	if s := np.take(fd); s != nil {
		np.release(s)
	}
	wasiFdClose.Call(ctx, m, []uint64{uint64(fd)})
}

var wasiFdClose api.GoModuleFunction

func readAddr(m api.Module, ptr uint32) (netip.AddrPort, bool) {
	b, ok := m.Memory().Read(ptr, abi.AddrSize)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap, ok := abi.DecodeAddr([abi.AddrSize]byte(b))
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

func netConnect(ctx context.Context, m api.Module, fd, addrPtr uint32) uint32 {
	np, s, e := callerSock(ctx, m, fd)
	if s == nil {
		return e
	}
	ap, ok := readAddr(m, addrPtr)
	if !ok {
		return np.fail(abi.EINVAL, "connect: not an address record")
	}
	s.mu.Lock()
	switch s.state {
	case sockConnecting:
		s.mu.Unlock()
		return uint32(abi.EALREADY)
	case sockConnected:
		s.mu.Unlock()
		return uint32(abi.EISCONN)
	case sockListening, sockBound:
		s.mu.Unlock()
		return uint32(abi.EINVAL)
	}
	if e := s.connErr; e != 0 {
		// The outcome of a non-blocking connect nobody asked for.
		s.connErr = 0
		s.mu.Unlock()
		return uint32(e)
	}
	nonblock := s.nonblock
	s.state = sockConnecting
	s.remote = ap
	s.mu.Unlock()

	nr := np.run
	if ap.Port() == 0 {
		s.failConnect(abi.ECONNREFUSED)
		return np.fail(abi.ECONNREFUSED, "connect: port 0")
	}
	if ap.Addr().IsLoopback() && nr.connectInside(s, ap) {
		nr.event(NetEvent{Op: "connect", Addr: ap.String(), Allowed: true, Reason: "the box's own listener"})
		return 0
	}
	ok, reason, _ := nr.verdict(ap)
	if !ok {
		s.failConnect(0)
		return np.fail(abi.EACCES, reason)
	}
	dial := func(ctx context.Context) abi.Errno {
		d := net.Dialer{Timeout: 75 * time.Second}
		c, err := d.DialContext(ctx, "tcp", ap.String())
		if err != nil {
			e := connErrno(err)
			np.fail(e, fmt.Sprintf("connect %v: %v", ap, err))
			return e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.state != sockConnecting {
			c.Close() // closed meanwhile
			return abi.EBADF
		}
		s.start(c)
		s.remote = ap
		return 0
	}
	if nonblock {
		go func() {
			if e := dial(np.ctx); e != 0 {
				s.failConnect(e)
			}
			s.changed()
		}()
		return uint32(abi.EINPROGRESS)
	}
	if e := dial(ctx); e != 0 {
		s.failConnect(0)
		checkAlive(ctx, m)
		return uint32(e)
	}
	return 0
}

// failConnect puts a socket whose connect failed back to new, keeping e
// for SO_ERROR.
func (s *sock) failConnect(e abi.Errno) {
	s.mu.Lock()
	if s.state == sockConnecting {
		s.state = sockNew
		s.connErr = e
	}
	s.mu.Unlock()
}

// connectInside connects s to the run's own listener on ap's port, if
// there is one.
func (nr *netRun) connectInside(s *sock, ap netip.AddrPort) bool {
	nr.mu.Lock()
	l := nr.listeners[ap.Port()]
	nr.nextPort++
	if nr.nextPort < 49152 {
		nr.nextPort = 49152
	}
	local := netip.AddrPortFrom(ap.Addr(), nr.nextPort)
	nr.mu.Unlock()
	if l == nil {
		return false
	}
	q := newSock(l.np, l.family)
	s.mu.Lock()
	pair(s, q)
	s.local, s.remote = local, ap
	q.local, q.remote = ap, local
	s.mu.Unlock()
	if !l.enqueue(q) {
		s.mu.Lock()
		s.state, s.mem = sockNew, nil
		s.mu.Unlock()
		s.failConnect(abi.ECONNREFUSED)
		return true
	}
	return true
}

func netBind(ctx context.Context, m api.Module, fd, addrPtr uint32) uint32 {
	np, s, e := callerSock(ctx, m, fd)
	if s == nil {
		return e
	}
	ap, ok := readAddr(m, addrPtr)
	if !ok {
		return np.fail(abi.EINVAL, "bind: not an address record")
	}
	if a := ap.Addr(); !a.IsUnspecified() && !a.IsLoopback() {
		return np.fail(abi.EADDRNOTAVAIL, fmt.Sprintf("bind %v: a box listens on its any address or loopback only", ap))
	}
	if !np.run.published(ap.Port()) {
		np.run.event(NetEvent{Op: "listen", Addr: ap.String(), Reason: "not published"})
		return np.fail(abi.EACCES, fmt.Sprintf("network policy: port %d is not published for this run (wasmbox run -p HOSTPORT:%d); a box listens on published ports only", ap.Port(), ap.Port()))
	}
	if np.run.bound(ap.Port()) {
		return np.fail(abi.EADDRINUSE, fmt.Sprintf("bind %v: the box listens on port %d already", ap, ap.Port()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != sockNew {
		return uint32(abi.EINVAL)
	}
	s.state, s.port, s.local = sockBound, ap.Port(), ap
	return 0
}

func netListen(ctx context.Context, m api.Module, fd, backlog uint32) uint32 {
	np, s, e := callerSock(ctx, m, fd)
	if s == nil {
		return e
	}
	s.mu.Lock()
	if s.state == sockListening {
		s.mu.Unlock()
		return 0
	}
	if s.state != sockBound {
		s.mu.Unlock()
		return np.fail(abi.EACCES, "listen: bind the socket to a published port first (a box listens on published ports only)")
	}
	port := s.port
	s.mu.Unlock()
	if !np.run.listen(port, s) {
		return np.fail(abi.EADDRINUSE, fmt.Sprintf("listen: the box listens on port %d already", port))
	}
	s.mu.Lock()
	s.state = sockListening
	s.backlog = int(min(max(backlog, 1), 128))
	s.mu.Unlock()
	np.run.event(NetEvent{Op: "listen", Addr: s.local.String(), Allowed: true, Reason: "published"})
	return 0
}

// accept takes a waiting connection of listener s, waiting when s blocks.
func (np *netProc) accept(ctx context.Context, m api.Module, s *sock) (*sock, uint32) {
	for {
		ch := np.wake.wait()
		s.mu.Lock()
		if s.state != sockListening {
			s.mu.Unlock()
			return nil, uint32(abi.EINVAL)
		}
		if len(s.queue) > 0 {
			q := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return q, 0
		}
		nonblock := s.nonblock
		s.mu.Unlock()
		if nonblock {
			return nil, errnoAGAIN
		}
		if e := np.block(ctx, m, ch, time.Time{}); e != 0 {
			return nil, e
		}
	}
}

// block waits for a change of the process's sockets, the deadline (zero:
// none) or the process's end.
func (np *netProc) block(ctx context.Context, m api.Module, ch <-chan struct{}, deadline time.Time) uint32 {
	var timer <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ch:
	case <-timer:
	case <-ctx.Done():
		checkAlive(ctx, m)
		return uint32(abi.EINTR)
	}
	return 0
}

func netAccept(ctx context.Context, m api.Module, fd, fdOut, addrPtr uint32) uint32 {
	np, s, e := callerSock(ctx, m, fd)
	if s == nil {
		return e
	}
	q, e := np.accept(ctx, m, s)
	if e != 0 {
		return e
	}
	if _, e := np.newFD(ctx, m, fdOut, q); e != 0 {
		return e
	}
	if addrPtr != 0 {
		q.mu.Lock()
		rec := abi.EncodeAddr(q.remote)
		q.mu.Unlock()
		if !m.Memory().Write(addrPtr, rec[:]) {
			return errnoFAULT
		}
	}
	return 0
}

func netGetaddr(ctx context.Context, m api.Module, fd, which, addrPtr uint32) uint32 {
	_, s, e := callerSock(ctx, m, fd)
	if s == nil {
		return e
	}
	s.mu.Lock()
	ap, state := s.local, s.state
	if which == 1 {
		ap = s.remote
	}
	fam := s.family
	s.mu.Unlock()
	if which == 1 && state != sockConnected {
		return uint32(abi.ENOTCONN)
	}
	if !ap.IsValid() {
		// Not bound: the any address of its family, port 0.
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		if fam == abi.FamilyIPv6 {
			ap = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
	}
	rec := abi.EncodeAddr(ap)
	if fam == abi.FamilyIPv6 && ap.Addr().Is4() {
		// An IPv6 socket sees IPv4 peers as mapped addresses.
		rec = abi.EncodeAddr(netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port()))
		binary.LittleEndian.PutUint16(rec[0:], abi.FamilyIPv6)
	}
	if !m.Memory().Write(addrPtr, rec[:]) {
		return errnoFAULT
	}
	return 0
}

func netGetopt(ctx context.Context, m api.Module, fd, opt, valOut uint32) uint32 {
	_, s, e := callerSock(ctx, m, fd)
	if s == nil {
		return e
	}
	s.mu.Lock()
	var v uint32
	switch opt {
	case abi.OptError:
		v = uint32(s.connErr)
		s.connErr = 0
	case abi.OptType:
		v = abi.TypeStream
	case abi.OptAcceptConn:
		if s.state == sockListening {
			v = 1
		}
	case abi.OptNoDelay, abi.OptKeepAlive, abi.OptReuseAddr:
		v = s.opts[opt]
	case abi.OptRcvBuf, abi.OptSndBuf:
		v = sockBufSize
	default:
		s.mu.Unlock()
		return uint32(abi.ENOPROTOOPT)
	}
	s.mu.Unlock()
	if !m.Memory().WriteUint32Le(valOut, v) {
		return errnoFAULT
	}
	return 0
}

func netSetopt(ctx context.Context, m api.Module, fd, opt, val uint32) uint32 {
	_, s, e := callerSock(ctx, m, fd)
	if s == nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch opt {
	case abi.OptNoDelay, abi.OptKeepAlive, abi.OptReuseAddr:
		if val != 0 {
			val = 1
		}
		if s.opts == nil {
			s.opts = map[uint32]uint32{}
		}
		s.opts[opt] = val
		if tc, ok := s.conn.(*net.TCPConn); ok {
			switch opt {
			case abi.OptNoDelay:
				_ = tc.SetNoDelay(val != 0)
			case abi.OptKeepAlive:
				_ = tc.SetKeepAlive(val != 0)
			}
		}
	case abi.OptRcvBuf, abi.OptSndBuf:
		// The buffers are the runner's, of a fixed size.
	default:
		return uint32(abi.ENOPROTOOPT)
	}
	return 0
}

// maxResolveAddrs bounds the addresses one resolve writes.
const maxResolveAddrs = 64

func netResolve(ctx context.Context, m api.Module, namePtr, nameLen, family, outPtr, outMax, nOut uint32) uint32 {
	_, np := caller(ctx, m)
	if np == nil {
		return errnoBADF
	}
	// A name is bounded before it is read: a guest may pass a megabyte.
	if nameLen == 0 || nameLen > 254 {
		return np.fail(abi.EINVAL, fmt.Sprintf("resolve: a host name of %d bytes (at most 253)", nameLen))
	}
	if family != abi.FamilyAny && family != abi.FamilyIPv4 && family != abi.FamilyIPv6 {
		return np.fail(abi.EAFNOSUPPORT, fmt.Sprintf("resolve: family %d", family))
	}
	b, ok := m.Memory().Read(namePtr, nameLen)
	if !ok {
		return errnoFAULT
	}
	addrs, e, msg := np.run.resolve(ctx, string(b), family)
	checkAlive(ctx, m)
	if e != 0 {
		return np.fail(e, msg)
	}
	n := min(uint32(len(addrs)), outMax, maxResolveAddrs)
	for i := uint32(0); i < n; i++ {
		rec := abi.EncodeAddr(netip.AddrPortFrom(addrs[i], 0))
		if !m.Memory().Write(outPtr+i*abi.AddrSize, rec[:]) {
			return errnoFAULT
		}
	}
	if !m.Memory().WriteUint32Le(nOut, n) {
		return errnoFAULT
	}
	return 0
}

func netLastError(ctx context.Context, m api.Module, bufPtr, bufLen, lenOut uint32) uint32 {
	_, np := caller(ctx, m)
	if np == nil {
		return errnoBADF
	}
	np.mu.Lock()
	msg := np.lastErr
	np.mu.Unlock()
	return writeMessage(m, msg, bufPtr, bufLen, lenOut)
}
