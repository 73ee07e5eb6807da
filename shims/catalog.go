package shims

import (
	"fmt"
	"strings"
)

// Base names a base box the catalog knows.
type Base string

const (
	// Scratch is the empty file system.
	Scratch Base = "scratch"
	// Shell is the shell and core utilities (/bin/sh, /bin/ls, ...).
	Shell Base = "shell"
)

// catalog maps an image repository (without registry and tag) to the base
// standing in for it.
var catalog = map[string]Base{
	"scratch": Scratch,
	"alpine":  Shell,
	"busybox": Shell,
	"debian":  Shell,
	"ubuntu":  Shell,
}

// Lookup returns the base standing in for image (as written after FROM:
// "alpine", "alpine:3.20", "docker.io/library/debian:bookworm-slim", ...).
func Lookup(image string) (Base, error) {
	repo := Repository(image)
	if b, ok := catalog[repo]; ok {
		return b, nil
	}
	return "", fmt.Errorf("no Wasm stand-in exists for base image %q yet (known: %s)", image, strings.Join(Known(), ", "))
}

// Known lists the repositories of the catalog, sorted.
func Known() []string {
	return []string{"alpine", "busybox", "debian", "scratch", "ubuntu"}
}

// Repository strips the registry, the library/ prefix, the tag and the
// digest of an image reference: "docker.io/library/alpine:3.20" is "alpine".
func Repository(image string) string {
	ref := strings.ToLower(image)
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if slash, colon := strings.LastIndexByte(ref, '/'), strings.LastIndexByte(ref, ':'); colon > slash {
		ref = ref[:colon]
	}
	parts := strings.Split(ref, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:]
	}
	if len(parts) > 1 && parts[0] == "library" {
		parts = parts[1:]
	}
	return strings.Join(parts, "/")
}
