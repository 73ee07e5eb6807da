package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The interpreter of mvdan.cc/sh/v3 uses OS pipes (missing on wasip1) for
// pipelines, here-documents and input redirections, except on GOOS=js,
// where stdin_js.go gives it in-process pipes. The build makes those
// in-process pipes apply to wasip1 too, without a copy of the module in
// this repository and without touching the module cache:
//
//   - the go command refuses -overlay replacements of files under
//     GOMODCACHE, and the _js.go file name suffix alone restricts that
//     file to GOOS=js whatever its //go:build line says;
//   - so the build replaces the module, through a generated go.mod given
//     with -modfile, by a directory that exists only in the -overlay: its
//     files are the module cache's own, except stdin_js.go, served as
//     stdin_inproc.go with the constraint `js || wasip1`, and stdin_os.go
//     with `!js && !wasip1`. Both are generated from the cache's files at
//     build time.
//
// One more line changes, in handler.go: the PATH lookup of the `command
// -v`, `type` and `hash` builtins requires an execute bit from os.Stat,
// which wasip1 never reports (every file is 0600); on wasip1 it accepts
// any file, as it does on windows. (The shell's own command execution
// does its own lookup with the box's modes.)
const shModule = "mvdan.cc/sh/v3"

// virtualModDir is where the replacement module appears to be.
const virtualModDir = "/wasmbox-build/mvdan.cc/sh/v3"

// patch is a generated file of the replacement module.
type patch struct {
	src, dst   string // slash paths relative to the module root
	from, to   string // a whole line and its replacement
	data       []byte // generated
	sourcePath string // absolute path of src in the module cache
}

func patches() []*patch {
	return []*patch{
		{src: "interp/stdin_js.go", dst: "interp/stdin_inproc.go", from: "//go:build js", to: "//go:build js || wasip1"},
		{src: "interp/stdin_os.go", dst: "interp/stdin_os.go", from: "//go:build !js", to: "//go:build !js && !wasip1"},
		{src: "interp/handler.go", dst: "interp/handler.go",
			from: "\tif checkExec && runtime.GOOS != \"windows\" && m&0o111 == 0 {",
			to:   "\tif checkExec && runtime.GOOS != \"windows\" && runtime.GOOS != \"wasip1\" && m&0o111 == 0 {"},
	}
}

// shOverlay is the replacement of mvdan.cc/sh/v3.
type shOverlay struct {
	modDir  string // the module in the module cache
	patches []*patch
}

// interpOverlay finds the module and generates the patched files.
func interpOverlay(ctx context.Context, o *options) (*shOverlay, error) {
	dir, err := runGo(ctx, o, nil, "list", "-m", "-f", "{{.Dir}}", shModule)
	if err == nil && dir == "" {
		// Known to go.mod but not downloaded yet.
		if _, err = runGo(ctx, o, nil, "mod", "download", shModule); err == nil {
			dir, err = runGo(ctx, o, nil, "list", "-m", "-f", "{{.Dir}}", shModule)
		}
	}
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("module %s has no directory", shModule)
	}
	ov := &shOverlay{modDir: dir, patches: patches()}
	for _, p := range ov.patches {
		p.sourcePath = filepath.Join(dir, filepath.FromSlash(p.src))
		src, err := os.ReadFile(p.sourcePath)
		if err != nil {
			return nil, err
		}
		if p.data, err = replaceLine(src, p.from, p.to); err != nil {
			return nil, fmt.Errorf("%s: %w", p.sourcePath, err)
		}
	}
	return ov, nil
}

// replaceLine replaces the line from (a build constraint, a line of code)
// by to. It fails when the line is not there exactly once: a new version
// of the module needs a new look.
func replaceLine(src []byte, from, to string) ([]byte, error) {
	lines := bytes.Split(src, []byte("\n"))
	found := -1
	for i, l := range lines {
		if string(bytes.TrimRight(l, "\r")) == from {
			if found >= 0 {
				return nil, fmt.Errorf("line %q appears twice", from)
			}
			found = i
		}
	}
	if found < 0 {
		return nil, fmt.Errorf("line %q not found; the overlay needs updating for this version of %s", from, shModule)
	}
	lines[found] = []byte(to)
	return bytes.Join(lines, []byte("\n")), nil
}

// write lays the overlay out in dir (a temporary directory): the patched
// files, overlay.json, and go.mod and go.sum for -modfile: the root's,
// plus the replace directive. It returns the paths of the JSON and the
// go.mod.
func (ov *shOverlay) write(dir, root string) (overlayJSON, modFile string, err error) {
	// The replacement exists only in the overlay. Its path is recorded in
	// the module's build info, so it is the same for every build.
	virtual := filepath.FromSlash(virtualModDir)
	replace := map[string]string{}
	skip := map[string]bool{}
	for _, p := range ov.patches {
		skip[p.src] = true
	}
	err = filepath.WalkDir(ov.modDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(ov.modDir, path)
		if err != nil {
			return err
		}
		name := d.Name()
		if skip[filepath.ToSlash(rel)] || !(name == "go.mod" || strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) {
			return nil
		}
		replace[filepath.Join(virtual, rel)] = path
		return nil
	})
	if err != nil {
		return "", "", err
	}
	for i, p := range ov.patches {
		gen := filepath.Join(dir, fmt.Sprintf("patch%d-%s", i, filepath.Base(p.dst)))
		if err := os.WriteFile(gen, p.data, 0o644); err != nil {
			return "", "", err
		}
		replace[filepath.Join(virtual, filepath.FromSlash(p.dst))] = gen
	}
	b, err := json.Marshal(struct{ Replace map[string]string }{replace})
	if err != nil {
		return "", "", err
	}
	overlayJSON = filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayJSON, b, 0o644); err != nil {
		return "", "", err
	}

	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", "", err
	}
	if bytes.Contains(gomod, []byte("replace "+shModule)) || bytes.Contains(gomod, []byte("\t"+shModule+" =>")) {
		return "", "", fmt.Errorf("go.mod already replaces %s; the build cannot replace it again", shModule)
	}
	gomod = fmt.Appendf(gomod, "\nreplace %s => %s\n", shModule, virtual)
	modFile = filepath.Join(dir, "go.mod")
	if err := os.WriteFile(modFile, gomod, 0o644); err != nil {
		return "", "", err
	}
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644); err != nil {
		return "", "", err
	}
	return overlayJSON, modFile, nil
}
