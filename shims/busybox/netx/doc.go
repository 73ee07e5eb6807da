// Package netx is the guest side of the network ABI (wasmbox_net, see
// shims/ABI.md): the applets that talk to the network (curl, wget, nc)
// resolve names, connect and listen through it.
//
// In a box (GOOS=wasip1) the runner resolves every name and makes every
// connection under the run's network policy; a socket is a WASI
// descriptor the runner serves, made non-blocking and handed to Go's own
// net package (net.FileConn), so reads, writes and deadlines go through
// Go's poller (poll_oneoff) and the guest's other goroutines keep running.
// A refusal carries the runner's message (last_error), which names the
// policy: "network policy: 10.0.0.5:80 is a private address; ...".
//
// On other GOOS (the native tests) the same functions use the host's net
// package directly.
//
// Errors are the net package's own types, so callers can tell the cases
// apart without matching text: a name that does not resolve is a
// *net.DNSError; a connection that fails is a *net.OpError with Op
// "dial"; a deadline or context that ends is a timeout (net.Error's
// Timeout, or context.DeadlineExceeded).
//
// netx prints nothing and never exits the process.
package netx
