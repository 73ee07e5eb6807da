// Package proc is the guest side of the process ABI (wasmbox_proc, see
// shims/ABI.md): a Wasm program of the box starts other programs of the box
// as child instances, talks to them through pipes, and reads and sets the
// box's file metadata (modes and owners, which WASI does not carry).
//
// Every host call is non-blocking; where a POSIX call would block, this
// package retries after a short time.Sleep (20µs doubling to 2ms, reset
// after progress), so the guest's other goroutines keep running meanwhile.
//
// On GOOS other than wasip1 the host functions are absent: every call fails
// with an error matching errors.ErrUnsupported, so packages built on proc
// compile and test natively.
//
// proc prints nothing and never exits the process.
package proc
