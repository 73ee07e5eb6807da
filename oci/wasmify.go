package oci

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/shims"
)

// Wasmifying lays the catalog's Wasm stand-ins over the native programs
// of a flattened image and prunes what cannot run in a box:
//   - an image with a shell (/bin/sh or /bin/busybox) gets the multi-call
//     module at the real path of /bin/busybox (a layer of its own, shared
//     by every image of the same layout) and links to it where the image
//     had a native program of the same name (sh, ls, ...) or none: in
//     /bin, /sbin, /usr/bin, /usr/sbin, plus /usr/bin/env, sh and bash;
//   - an image with a native python3 gets the python base (a layer of its
//     own, the same one FROM python uses) and links to it where it had
//     other python programs;
//   - every other ELF file (programs, shared libraries) is pruned, or kept
//     as an inert file with keepNative; so are the links that led only to
//     a pruned file.
// The image's own scripts, data and /etc stay as they are.

// Report says what an import did to an image.
type Report struct {
	Source string // what was imported, as named
	Digest string // the source image's config digest
	// Cached: the import was done before, this is its report.
	Cached bool
	// Dropped are the layer entries flattening left out.
	Dropped []Dropped
	// StandIns are the bases laid over the image (shell, python).
	StandIns []shims.Base
	// Replaced are the paths of native programs (or missing ones) that now
	// run a Wasm stand-in.
	Replaced []string
	// Added counts the links to stand-ins put where the image had none.
	Added int
	// Pruned are the native files and the links to them that were
	// removed.
	Pruned []string
	// RemovedBytes is the size of the native files removed, pruned or
	// replaced (hard links counted once): what the box saves.
	RemovedBytes int64
	// Kept are the native files kept as inert files (keepNative).
	Kept      []string
	KeptBytes int64
	// Warnings: the stand-in differs from what the image had.
	Warnings []string
}

// Summary is the report in one line.
func (r *Report) Summary() string {
	var parts []string
	if len(r.StandIns) > 0 {
		names := make([]string, len(r.StandIns))
		for i, b := range r.StandIns {
			names[i] = string(b)
		}
		parts = append(parts, fmt.Sprintf("%d native programs replaced by Wasm stand-ins (%s)", len(r.Replaced), strings.Join(names, ", ")))
	} else {
		parts = append(parts, "no Wasm stand-in (no shell or python found)")
	}
	parts = append(parts, fmt.Sprintf("%d native files pruned", len(r.Pruned)), units.Size(r.RemovedBytes)+" of native code removed")
	if len(r.Kept) > 0 {
		parts = append(parts, fmt.Sprintf("%d kept inert (%s)", len(r.Kept), units.Size(r.KeptBytes)))
	}
	if len(r.Dropped) > 0 {
		parts = append(parts, fmt.Sprintf("%d layer entries dropped", len(r.Dropped)))
	}
	return strings.Join(parts, "; ")
}

// standIn is a layer of stand-ins to lay over the imported tree.
type standIn struct {
	base   shims.Base
	binDir string // shell: where the module goes
}

// pythonName matches the names of the python programs the python base
// replaces.
var pythonName = regexp.MustCompile(`^python(3(\.[0-9]+)?)?$`)

// binDirs are the directories whose programs stand-ins replace.
var binDirs = []string{"bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin"}

// wasmify changes t in place and returns the stand-in layers to lay over
// it, bottom first.
func (t *flatTree) wasmify(shimsDir string, keepNative bool, rep *Report) ([]standIn, error) {
	var layers []standIn
	var gone *fdata // the native busybox, replaced whatever keepNative says
	replaced := map[*fnode]bool{}
	replace := func(p, target string) error {
		n := &fnode{e: fsimage.Entry{Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: target, ModTime: epoch}}
		_, existed := t.lookup(p)
		if err := t.put(p, n); err != nil {
			return err
		}
		replaced[n] = true
		if existed {
			rep.Replaced = append(rep.Replaced, "/"+p)
		} else {
			rep.Added++
		}
		return nil
	}
	// native reports whether what p leads to is no program of the image's
	// own: nothing, a dangling link, an ELF file or the native busybox.
	native := func(p, busybox string) bool {
		n, real, err := t.resolve(p, true)
		if err != nil {
			return true
		}
		if n.e.Type != fsimage.TypeReg {
			return false
		}
		return t.isELF(n.data) || real == busybox
	}
	// The real directories behind /bin and friends, each once.
	var dirs []string
	seen := map[string]bool{}
	for _, d := range binDirs {
		if n, real, err := t.resolve(d, true); err == nil && n.e.Type == fsimage.TypeDir && !seen[real] {
			seen[real] = true
			dirs = append(dirs, real)
		}
	}

	_, _, shErr := t.resolve("bin/sh", false)
	_, _, bbErr := t.resolve("bin/busybox", false)
	if shErr == nil || bbErr == nil {
		applets, err := shims.Applets(shimsDir)
		if err != nil {
			return nil, err
		}
		binDir := "bin"
		if n, real, err := t.resolve("bin", true); err == nil {
			if n.e.Type != fsimage.TypeDir {
				return nil, fmt.Errorf("the image's /bin is a %s, not a directory: no place for the Wasm shell", n.e.Type)
			}
			binDir = real
		}
		if binDir == "." {
			return nil, fmt.Errorf("the image's /bin leads to its root: no place for the Wasm shell")
		}
		busybox := binDir + "/busybox"
		if !seen[binDir] {
			seen[binDir] = true
			dirs = append(dirs, binDir)
		}
		// The native busybox goes (the module layer takes its place), and
		// with it the links to it that no stand-in took over.
		if n, ok := t.lookup(busybox); ok && n.data != nil && t.isELF(n.data) {
			rep.Replaced = append(rep.Replaced, "/"+busybox)
			gone = n.data
		}
		for _, a := range applets {
			for _, d := range dirs {
				p := d + "/" + a
				if _, ok := t.lookup(p); !ok && d != binDir {
					continue // only /bin gets the links the image lacked
				}
				if a == "busybox" || !native(p, busybox) {
					continue // the image's own script
				}
				if err := replace(p, "/bin/busybox"); err != nil {
					return nil, err
				}
			}
		}
		// Scripts say #!/usr/bin/env; Debian's programs live in /usr/bin.
		for _, a := range []string{"env", "sh", "bash"} {
			p := "usr/bin/" + a
			if n, ok := t.lookup(p); ok && replaced[n] {
				continue
			}
			if native(p, busybox) {
				// Not when /usr or /usr/bin is a link: the image's
				// layout is kept.
				_ = replace(p, "/bin/busybox")
			}
		}
		layers = append(layers, standIn{base: shims.Shell, binDir: binDir})
		rep.StandIns = append(rep.StandIns, shims.Shell)
	}

	// Python: the official images' /usr/local/bin/python3.X, Debian's
	// /usr/bin/python3.X, ...
	var pythons []string
	for _, d := range dirs {
		dn, _ := t.lookup(d)
		for name := range dn.kids {
			p := d + "/" + name
			if pythonName.MatchString(name) && native(p, "") {
				if n, ok := t.lookup(p); ok && !replaced[n] {
					if _, _, err := t.resolve(p, true); err == nil {
						pythons = append(pythons, p)
					}
				}
			}
		}
	}
	if len(pythons) > 0 {
		want := "python" + shims.PythonVersion
		sort.Strings(pythons)
		for _, p := range pythons {
			name := path.Base(p)
			if strings.HasPrefix(name, "python3.") && name != want {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("/%s: CPython %s is what the python base ships; the box runs %s", p, shims.PythonVersion, shims.PythonVersion))
			}
			if path.Dir(p) == "usr/local/bin" && (name == want || name == "python3" || name == "python") {
				// The python layer puts its own there.
				t.remove(p)
				rep.Replaced = append(rep.Replaced, "/"+p)
				continue
			}
			if err := replace(p, "/usr/local/bin/"+want); err != nil {
				return nil, err
			}
		}
		layers = append(layers, standIn{base: shims.Python})
		rep.StandIns = append(rep.StandIns, shims.Python)
	}

	// Prune the native files and the links that only led to them.
	pruned := map[*fdata]bool{}
	var files []string
	t.each(func(p string, n *fnode) {
		if n.data != nil && t.isELF(n.data) {
			files = append(files, p)
			if !pruned[n.data] {
				pruned[n.data] = true
				if keepNative && n.data != gone {
					rep.KeptBytes += n.data.size
				} else {
					rep.RemovedBytes += n.data.size
				}
			}
		}
	})
	if keepNative {
		for _, p := range files {
			if n, _ := t.lookup(p); n.data == gone {
				t.remove(p)
				continue
			}
			rep.Kept = append(rep.Kept, "/"+p)
		}
		return layers, nil
	}
	var links []string
	t.each(func(p string, n *fnode) {
		if n.e.Type == fsimage.TypeSymlink && !replaced[n] {
			if target, _, err := t.resolve(p, true); err == nil && target.data != nil && pruned[target.data] {
				links = append(links, p)
			}
		}
	})
	for _, p := range append(files, links...) {
		n, _ := t.lookup(p)
		if t.remove(p) && (n.data == nil || n.data != gone) {
			rep.Pruned = append(rep.Pruned, "/"+p)
		}
	}
	sort.Strings(rep.Pruned)
	return layers, nil
}
