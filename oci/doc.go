// Package oci owns the box as an OCI artifact: media types, the image
// config (os wasip1, architecture wasm), the local store, an OCI image
// layout under $WASMBOX_HOME, and the distribution of boxes: Push and Pull
// to and from registries (go-containerregistry), Save and Load of OCI
// image layout archives. What travels, and what is accepted, is oci/SPEC.md.
//
// Every registry access takes one option type (Option), whose transport
// refuses plain HTTP but to loopback and declared insecure registries;
// Fetch is the one way a registry reference becomes a box. Every box of a
// layout is read through internal/boxlayout, which runtime shares.
//
// Foreign images (a registry's, an OCI layout's, a docker-archive's) become
// boxes through Import: their tar layers flattened with Docker's whiteout
// rules and hostile entries dropped (flatten.go), the native programs
// replaced by the Wasm stand-ins of shims and the rest pruned (wasmify.go).
//
// It must not run boxes (that is runtime) nor parse Dockerfiles (convert),
// and it prints nothing: errors and results are returned.
package oci
