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
	// Python is CPython for WASI at the paths of the official python
	// images, over the shell base.
	Python Base = "python"
)

// PythonVersion is the CPython the python base ships.
const PythonVersion = "3.11"

// Layers lists the layers of base b, bottom first: each its own layer,
// so boxes on the same runtimes share them in stores and registries.
func (b Base) Layers() []Base {
	switch b {
	case Shell:
		return []Base{Shell}
	case Python:
		return []Base{Shell, Python}
	}
	return nil
}

// Programs lists where base b's own layer puts its Wasm modules in a box.
func (b Base) Programs() []string {
	switch b {
	case Shell:
		return []string{"/bin/busybox"}
	case Python:
		return []string{"/usr/local/bin/python" + PythonVersion}
	}
	return nil
}

// catalog maps an image repository (without registry and tag) to the base
// standing in for it.
var catalog = map[string]Base{
	"scratch": Scratch,
	"alpine":  Shell,
	"busybox": Shell,
	"debian":  Shell,
	"ubuntu":  Shell,
	"python":  Python,
}

// Lookup returns the base standing in for image (as written after FROM:
// "alpine", "alpine:3.20", "docker.io/library/debian:bookworm-slim", ...),
// and a warning when the stand-in differs from what the tag asks for.
func Lookup(image string) (Base, string, error) {
	repo := Repository(image)
	b, ok := catalog[repo]
	if !ok {
		return "", "", fmt.Errorf("no Wasm stand-in exists for base image %q yet (known: %s)", image, strings.Join(Known(), ", "))
	}
	if b == Python {
		// python:3.X, 3.X.Y, 3.X-slim, 3-alpine, latest, ...
		tag := Tag(image)
		ver, _, _ := strings.Cut(tag, "-")
		if parts := strings.Split(ver, "."); len(parts) >= 2 && parts[0] == "3" && parts[0]+"."+parts[1] != PythonVersion {
			return b, fmt.Sprintf("%s: CPython %s is what the python base ships; the box gets %s, not %s", image, PythonVersion, PythonVersion, parts[0]+"."+parts[1]), nil
		}
	}
	return b, "", nil
}

// Known lists the repositories of the catalog, sorted.
func Known() []string {
	return []string{"alpine", "busybox", "debian", "python", "scratch", "ubuntu"}
}

// Tag is the tag of an image reference ("latest" when it has none).
func Tag(image string) string {
	ref := image
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if slash, colon := strings.LastIndexByte(ref, '/'), strings.LastIndexByte(ref, ':'); colon > slash {
		return ref[colon+1:]
	}
	return "latest"
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
