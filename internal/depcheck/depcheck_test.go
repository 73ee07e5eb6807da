// Package depcheck enforces the package dependency directions: the CLI
// and convert at the top, then oci and runtime, then fsimage and the
// shared leaf packages; top imports bottom, never the reverse.
package depcheck

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/wasmbox/wasmbox"

// allowed lists, for each package (or tree, with "/..."), which of the
// project's packages it may import. stdlibOnly packages may import nothing
// outside the standard library but what is listed.
var rules = []struct {
	pkg        string
	allowed    []string
	stdlibOnly bool
}{
	{pkg: "fsimage", stdlibOnly: true},
	// Environment lists and size formatting, shared.
	{pkg: "internal/envlist", stdlibOnly: true},
	{pkg: "internal/units", stdlibOnly: true},
	{pkg: "shims", allowed: []string{"fsimage"}, stdlibOnly: true},
	// The process ABI, shared by the runner and the guest programs.
	{pkg: "shims/abi", stdlibOnly: true},
	{pkg: "internal/passwd", stdlibOnly: true},
	{pkg: "internal/flock"}, // and golang.org/x/sys/windows on Windows
	// Snapshots: the binary rewriter needs nothing but the standard library;
	// the copy-on-write memory is wazero's allocator hook over mmap.
	{pkg: "internal/wasmsnap", stdlibOnly: true},
	{pkg: "internal/wasmsnap/cowmem"},
	// The one reader of boxes in an image layout, shared by oci and runtime.
	{pkg: "internal/boxlayout", allowed: []string{"fsimage"}},
	// Wheels from Debian's packages, and a package index, for tests.
	{pkg: "internal/debwheel", allowed: []string{"internal/flock"}, stdlibOnly: true},
	// The build side of runtime's overlay, reached by convert only: it
	// may import nothing of the project, so runtime can register into it.
	{pkg: "internal/engine"},
	{pkg: "oci", allowed: []string{"fsimage", "shims", "internal/boxlayout", "internal/units", "internal/flock"}},
	{pkg: "runtime", allowed: []string{"fsimage", "shims", "shims/abi", "internal/boxlayout", "internal/envlist", "internal/units", "internal/passwd", "internal/engine", "internal/wasmsnap", "internal/wasmsnap/cowmem"}},
	// The agent-facing server: a thin layer over the library.
	{pkg: "serve", allowed: []string{"runtime", "oci", "fsimage", "internal/envlist", "internal/units"}},
	{pkg: "convert", allowed: []string{"oci", "fsimage", "runtime", "internal/engine", "shims", "internal/envlist", "internal/units", "internal/passwd", "internal/flock"}},
	// The guest programs are built for wasip1 and see no host package but
	// the standard-library-only ones that hold what host and guest share.
	{pkg: "shims/busybox/...", allowed: []string{"shims/busybox/...", "shims/abi", "fsimage", "internal/envlist"}},
	{pkg: "shims/build/...", allowed: []string{"shims/build/...", "shims/busybox/..."}},
}

type pkgInfo struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func match(pattern, rel string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", mod+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p pkgInfo
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		for _, imp := range p.Imports {
			if imp == mod+"/internal/engine" && rel != "runtime" && rel != "convert" {
				t.Errorf("%s imports internal/engine: only runtime and the builder (convert) may", rel)
			}
		}
		for _, r := range rules {
			if !match(r.pkg, rel) {
				continue
			}
			checked++
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, mod+"/") || imp == mod {
					irel := strings.TrimPrefix(imp, mod+"/")
					ok := false
					for _, a := range r.allowed {
						ok = ok || match(a, irel)
					}
					if !ok {
						t.Errorf("%s imports %s: %s may only import %v of this project", rel, irel, r.pkg, r.allowed)
					}
					continue
				}
				if r.stdlibOnly && !isStdlib(imp) {
					t.Errorf("%s imports %s: only the standard library is allowed", rel, imp)
				}
			}
			break
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d packages: the rules match nothing", checked)
	}
}
