// Package build compiles the box's multi-call module (shims/busybox: the
// shell and core utilities) to busybox.wasm for GOOS=wasip1 with the host's
// Go toolchain, and skips the work when nothing that goes into the module
// changed since the last build in the same output directory.
//
// It runs `go` as a subprocess; it imports nothing but the standard library
// and prints nothing (the toolchain's output comes back in errors). It must
// not touch the module cache or commit generated sources: the patched files
// of mvdan.cc/sh/v3 that the module needs exist only in a temporary
// directory during a build (see overlay.go).
//
// From the command line:
//
//	go run ./shims/build/buildshims -o DIR
package build
