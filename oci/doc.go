// Package oci owns the box as an OCI artifact: media types, the image
// config (os wasip1, architecture wasm), and the local store, an OCI image
// layout under $WASMBOX_HOME. Registry push and pull will live here too.
//
// Foreign images (a registry's, an OCI layout's, a docker-archive's) become
// boxes through Import: their tar layers flattened with Docker's whiteout
// rules and hostile entries dropped (flatten.go), the native programs
// replaced by the Wasm stand-ins of shims and the rest pruned (wasmify.go).
//
// It must not run boxes (that is runtime) nor parse Dockerfiles (convert),
// and it prints nothing: errors and results are returned.
package oci
