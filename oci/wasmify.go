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
// it, bottom first: the shell's where the image has a /bin/sh or a
// busybox, the python base's where it has a native python, then the
// native files pruned (or kept inert).
func (t *flatTree) wasmify(shimsDir string, keepNative bool, rep *Report) ([]standIn, error) {
	w := &wasmifier{t: t, rep: rep, replaced: map[*fnode]bool{}, seen: map[string]bool{}}
	w.findBinDirs()
	var layers []standIn
	if sh, ok, err := w.shell(shimsDir); err != nil {
		return nil, err
	} else if ok {
		layers = append(layers, sh)
	}
	if py, ok, err := w.python(); err != nil {
		return nil, err
	} else if ok {
		layers = append(layers, py)
	}
	w.prune(keepNative)
	return layers, nil
}

// wasmifier is one wasmify in progress: the tree, its report, and what
// the steps tell each other.
type wasmifier struct {
	t        *flatTree
	rep      *Report
	gone     *fdata          // the native busybox, replaced whatever keepNative says
	replaced map[*fnode]bool // the links the stand-ins put in
	dirs     []string        // the real directories behind /bin and friends, each once
	seen     map[string]bool // dirs, as a set
}

// replace makes p a link to target, a stand-in.
func (w *wasmifier) replace(p, target string) error {
	n := &fnode{e: fsimage.Entry{Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: target, ModTime: epoch}}
	_, existed := w.t.lookup(p)
	if err := w.t.put(p, n); err != nil {
		return err
	}
	w.replaced[n] = true
	if existed {
		w.rep.Replaced = append(w.rep.Replaced, "/"+p)
	} else {
		w.rep.Added++
	}
	return nil
}

// native reports whether what p leads to is no program of the image's
// own: nothing, a dangling link, an ELF file or the native busybox.
func (w *wasmifier) native(p, busybox string) bool {
	n, real, err := w.t.resolve(p, true)
	if err != nil {
		return true
	}
	if n.e.Type != fsimage.TypeReg {
		return false
	}
	return w.t.isELF(n.data) || real == busybox
}

// findBinDirs finds the real directories behind /bin and friends.
func (w *wasmifier) findBinDirs() {
	for _, d := range binDirs {
		if n, real, err := w.t.resolve(d, true); err == nil && n.e.Type == fsimage.TypeDir && !w.seen[real] {
			w.seen[real] = true
			w.dirs = append(w.dirs, real)
		}
	}
}

// shell lays the Wasm shell and its applets over the image's /bin/sh and
// busybox programs, when it has either.
func (w *wasmifier) shell(shimsDir string) (standIn, bool, error) {
	t := w.t
	_, _, shErr := t.resolve("bin/sh", false)
	_, _, bbErr := t.resolve("bin/busybox", false)
	if shErr != nil && bbErr != nil {
		return standIn{}, false, nil
	}
	applets, err := shims.Applets(shimsDir)
	if err != nil {
		return standIn{}, false, err
	}
	binDir := "bin"
	if n, real, err := t.resolve("bin", true); err == nil {
		if n.e.Type != fsimage.TypeDir {
			return standIn{}, false, fmt.Errorf("the image's /bin is a %s, not a directory: no place for the Wasm shell", n.e.Type)
		}
		binDir = real
	}
	if binDir == "." {
		return standIn{}, false, fmt.Errorf("the image's /bin leads to its root: no place for the Wasm shell")
	}
	busybox := binDir + "/busybox"
	if !w.seen[binDir] {
		w.seen[binDir] = true
		w.dirs = append(w.dirs, binDir)
	}
	// The native busybox goes (the module layer takes its place), and
	// with it the links to it that no stand-in took over.
	if n, ok := t.lookup(busybox); ok && n.data != nil && t.isELF(n.data) {
		w.rep.Replaced = append(w.rep.Replaced, "/"+busybox)
		w.gone = n.data
	}
	for _, a := range applets {
		for _, d := range w.dirs {
			p := d + "/" + a
			if _, ok := t.lookup(p); !ok && d != binDir {
				continue // only /bin gets the links the image lacked
			}
			if a == "busybox" || !w.native(p, busybox) {
				continue // the image's own script
			}
			if err := w.replace(p, "/bin/busybox"); err != nil {
				return standIn{}, false, err
			}
		}
	}
	// Scripts say #!/usr/bin/env; Debian's programs live in /usr/bin.
	for _, a := range []string{"env", "sh", "bash"} {
		p := "usr/bin/" + a
		if n, ok := t.lookup(p); ok && w.replaced[n] {
			continue
		}
		if w.native(p, busybox) {
			// Not when /usr or /usr/bin is a link: the image's
			// layout is kept.
			_ = w.replace(p, "/bin/busybox")
		}
	}
	w.rep.StandIns = append(w.rep.StandIns, shims.Shell)
	return standIn{base: shims.Shell, binDir: binDir}, true, nil
}

// python lays the python base over the image's native pythons: the
// official images' /usr/local/bin/python3.X, Debian's /usr/bin/python3.X,
// ...
func (w *wasmifier) python() (standIn, bool, error) {
	t := w.t
	var pythons []string
	for _, d := range w.dirs {
		dn, _ := t.lookup(d)
		for name := range dn.kids {
			p := d + "/" + name
			if pythonName.MatchString(name) && w.native(p, "") {
				if n, ok := t.lookup(p); ok && !w.replaced[n] {
					if _, _, err := t.resolve(p, true); err == nil {
						pythons = append(pythons, p)
					}
				}
			}
		}
	}
	if len(pythons) == 0 {
		return standIn{}, false, nil
	}
	want := "python" + shims.PythonVersion
	sort.Strings(pythons)
	for _, p := range pythons {
		name := path.Base(p)
		if strings.HasPrefix(name, "python3.") && name != want {
			w.rep.Warnings = append(w.rep.Warnings, fmt.Sprintf("/%s: CPython %s is what the python base ships; the box runs %s", p, shims.PythonVersion, shims.PythonVersion))
		}
		if path.Dir(p) == "usr/local/bin" && (name == want || name == "python3" || name == "python") {
			// The python layer puts its own there.
			t.remove(p)
			w.rep.Replaced = append(w.rep.Replaced, "/"+p)
			continue
		}
		if err := w.replace(p, "/usr/local/bin/"+want); err != nil {
			return standIn{}, false, err
		}
	}
	w.rep.StandIns = append(w.rep.StandIns, shims.Python)
	return standIn{base: shims.Python}, true, nil
}

// prune removes the native files and the links that only led to them, or
// with keepNative keeps them as inert files (the native busybox goes
// either way: the shell took its place).
func (w *wasmifier) prune(keepNative bool) {
	t, rep := w.t, w.rep
	pruned := map[*fdata]bool{}
	var files []string
	t.each(func(p string, n *fnode) {
		if n.data != nil && t.isELF(n.data) {
			files = append(files, p)
			if !pruned[n.data] {
				pruned[n.data] = true
				if keepNative && n.data != w.gone {
					rep.KeptBytes += n.data.size
				} else {
					rep.RemovedBytes += n.data.size
				}
			}
		}
	})
	if keepNative {
		for _, p := range files {
			if n, _ := t.lookup(p); n.data == w.gone {
				t.remove(p)
				continue
			}
			rep.Kept = append(rep.Kept, "/"+p)
		}
		return
	}
	var links []string
	t.each(func(p string, n *fnode) {
		if n.e.Type == fsimage.TypeSymlink && !w.replaced[n] {
			if target, _, err := t.resolve(p, true); err == nil && target.data != nil && pruned[target.data] {
				links = append(links, p)
			}
		}
	})
	for _, p := range append(files, links...) {
		n, _ := t.lookup(p)
		if t.remove(p) && (n.data == nil || n.data != w.gone) {
			rep.Pruned = append(rep.Pruned, "/"+p)
		}
	}
	sort.Strings(rep.Pruned)
}
