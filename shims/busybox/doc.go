// Command busybox is the box's multi-call module (/bin/busybox, built for
// GOOS=wasip1 by shims/build): the shell and the core utilities, chosen by
// the base name of argv[0] (sh, ls, ...), or `busybox APPLET [ARG...]`.
//
// Build it with shims/build (`go run ./shims/build/buildshims -o DIR`): a
// plain `GOOS=wasip1 go build` compiles, but its shell cannot run pipelines.
// The module imports the wasmbox_proc and wasmbox_net host modules
// (shims/ABI.md), so only a runner that provides both can instantiate it.
package main
