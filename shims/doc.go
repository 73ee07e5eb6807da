// Package shims is the host side of the Wasm stand-ins: the catalog that
// maps base images (FROM alpine, FROM scratch, ...) to the stand-ins that
// replace their native programs, where the built modules are found, and
// the base layers made of them.
//
// The stand-ins themselves are guest programs built for GOOS=wasip1 from
// the sources below this directory (busybox/: the shell and the core
// utilities as one multi-call module; build/: how they are built). The
// process ABI between guests and the runner is documented in ABI.md.
//
// This package imports only the standard library and fsimage: it must not
// run modules (runtime does) nor touch the store (oci does).
package shims
