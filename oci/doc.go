// Package oci owns the box as an OCI artifact: media types, the image
// config (os wasip1, architecture wasm), and the local store, an OCI image
// layout under $WASMBOX_HOME. Registry push and pull will live here too.
//
// It must not run boxes (that is runtime) nor parse Dockerfiles (convert),
// and it prints nothing: errors and results are returned.
package oci
