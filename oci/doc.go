// Package oci owns the box as an OCI artifact: media types, the image
// config (os wasip1, architecture wasm), the local store, an OCI image
// layout under $WASMBOX_HOME, and the distribution of boxes: Push and Pull
// to and from registries (go-containerregistry), Save and Load of OCI
// image layout archives. What travels, and what is accepted, is oci/SPEC.md.
//
// It must not run boxes (that is runtime) nor parse Dockerfiles (convert),
// and it prints nothing: errors and results are returned.
package oci
