package shims

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wasmbox/wasmbox/fsimage"
)

// AppletsFile lists, one per line, the programs the multi-call module
// provides; the shims build writes it next to the module.
const AppletsFile = "busybox.applets"

// baseTime is the modification time of everything in a base layer: fixed,
// so that a base layer's digest depends only on its contents.
var baseTime = time.Unix(0, 0).UTC()

// WriteBase writes the layer of base b, made from the stand-ins in dir,
// to w. Scratch has no layer: it writes nothing and returns false.
func WriteBase(w io.Writer, b Base, dir string) (bool, error) {
	switch b {
	case Scratch:
		return false, nil
	case Shell:
	case Python:
		return true, writePython(w, filepath.Join(dir, PythonDir))
	default:
		return false, fmt.Errorf("unknown base %q", b)
	}
	module := filepath.Join(dir, BusyboxModule)
	st, err := os.Stat(module)
	if err != nil {
		return false, fmt.Errorf("shell base: %w", err)
	}
	applets, err := readApplets(filepath.Join(dir, AppletsFile))
	if err != nil {
		return false, fmt.Errorf("shell base: %w", err)
	}
	fw := fsimage.NewWriter()
	add := func(e fsimage.Entry, open func() (io.ReadCloser, error)) {
		e.ModTime = baseTime
		if err == nil {
			err = fw.Add(e, open)
		}
	}
	dirs := map[string]fs.FileMode{
		".": 0o755, "bin": 0o755, "sbin": 0o755, "etc": 0o755, "usr": 0o755,
		"usr/bin": 0o755, "usr/sbin": 0o755, "usr/local": 0o755, "usr/local/bin": 0o755,
		"root": 0o700, "home": 0o755, "tmp": 0o777 | fs.ModeSticky, "var": 0o755,
		"var/tmp": 0o777 | fs.ModeSticky, "dev": 0o755, "proc": 0o555, "sys": 0o555,
	}
	for _, d := range sortedKeys(dirs) {
		add(fsimage.Entry{Path: d, Type: fsimage.TypeDir, Mode: dirs[d]}, nil)
	}
	add(fsimage.Entry{Path: "bin/busybox", Type: fsimage.TypeReg, Mode: 0o755, Size: st.Size()},
		func() (io.ReadCloser, error) { return os.Open(module) })
	for _, a := range applets {
		if a == "busybox" {
			continue
		}
		add(fsimage.Entry{Path: "bin/" + a, Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: "busybox"}, nil)
	}
	// Scripts say #!/usr/bin/env; Debian's programs live in /usr/bin.
	for _, a := range []string{"env", "sh", "bash"} {
		add(fsimage.Entry{Path: "usr/bin/" + a, Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: "/bin/busybox"}, nil)
	}
	files := map[string]string{
		"etc/passwd":     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":      "root:x:0:root\nnogroup:x:65534:\n",
		"etc/hostname":   "wasmbox\n",
		"etc/hosts":      "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
		"etc/shells":     "/bin/sh\n/bin/ash\n/bin/bash\n",
		"etc/os-release": "NAME=\"wasmbox shell base\"\nID=wasmbox\nPRETTY_NAME=\"wasmbox shell base (WASI)\"\nHOME_URL=\"https://github.com/wasmbox/wasmbox\"\n",
	}
	for _, f := range sortedKeys(files) {
		data := []byte(files[f])
		add(fsimage.Entry{Path: f, Type: fsimage.TypeReg, Mode: 0o644, Size: int64(len(data))},
			func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	}
	if err != nil {
		return false, fmt.Errorf("shell base: %w", err)
	}
	if _, err := fw.WriteTo(w); err != nil {
		return false, fmt.Errorf("shell base: %w", err)
	}
	return true, nil
}

// Applets lists the programs the multi-call module in dir provides.
func Applets(dir string) ([]string, error) {
	return readApplets(filepath.Join(dir, AppletsFile))
}

// WriteShellModule writes a layer holding only the multi-call module, at
// binDir/busybox (binDir: "bin", or where an image's /bin leads, such as
// "usr/bin"). Laid over a foreign image, it stands in for the image's
// shell; the image keeps its own /etc. The links to it (sh, ls, ...) are
// the importer's to place.
func WriteShellModule(w io.Writer, dir, binDir string) error {
	module := filepath.Join(dir, BusyboxModule)
	st, err := os.Stat(module)
	if err != nil {
		return fmt.Errorf("shell module: %w", err)
	}
	fw := fsimage.NewWriter()
	err = fw.Add(fsimage.Entry{Path: binDir + "/busybox", Type: fsimage.TypeReg, Mode: 0o755, Size: st.Size(), ModTime: baseTime},
		func() (io.ReadCloser, error) { return os.Open(module) })
	if err != nil {
		return fmt.Errorf("shell module: %w", err)
	}
	_, err = fw.WriteTo(w)
	return err
}

func readApplets(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		a := strings.TrimSpace(sc.Text())
		if a == "" {
			continue
		}
		if strings.ContainsAny(a, "/\\") || a == "." || a == ".." {
			return nil, fmt.Errorf("%s: bad applet name %q", name, a)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no applets", name)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pythonRootTrees are the trees of a packaged CPython's root/ directory
// that the python layer lays at the same paths in the box.
var pythonRootTrees = []string{"etc/ssl", "usr/lib/ssl"}

// PythonDir is the directory, in a shims directory, of the packaged CPython
// (shims/python/package.sh): python.wasm, lib/python3.X (the stdlib and
// site-packages) and bin/ (scripts such as pip).
const PythonDir = "python"

// writePython writes the python layer: the interpreter, the standard
// library and pip at the paths of the official python images.
func writePython(w io.Writer, dir string) error {
	module := filepath.Join(dir, "python.wasm")
	st, err := os.Stat(module)
	if err != nil {
		return fmt.Errorf("python base: %w (build it with shims/python/package.sh)", err)
	}
	ver := PythonVersion
	fw := fsimage.NewWriter()
	add := func(e fsimage.Entry, open func() (io.ReadCloser, error)) {
		e.ModTime = baseTime
		if err == nil {
			err = fw.Add(e, open)
		}
	}
	add(fsimage.Entry{Path: "usr/local/bin/python" + ver, Type: fsimage.TypeReg, Mode: 0o755, Size: st.Size()},
		func() (io.ReadCloser, error) { return os.Open(module) })
	add(fsimage.Entry{Path: "usr/local/bin/python3", Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: "python" + ver}, nil)
	add(fsimage.Entry{Path: "usr/local/bin/python", Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: "python3"}, nil)
	if werr := addTree(add, filepath.Join(dir, "lib", "python"+ver), "usr/local/lib/python"+ver); werr != nil {
		return fmt.Errorf("python base: %w", werr)
	}
	// Scripts (pip, pip3, ...), without the directory itself: the links
	// above are in it already.
	if werr := addTree(add, filepath.Join(dir, "bin"), "usr/local/bin"); werr != nil && !errors.Is(werr, fs.ErrNotExist) {
		return fmt.Errorf("python base: %w", werr)
	}
	// pip's site configuration (sys.prefix/pip.conf).
	if werr := addTree(add, filepath.Join(dir, "pip.conf"), "usr/local/pip.conf"); werr != nil && !errors.Is(werr, fs.ErrNotExist) {
		return fmt.Errorf("python base: %w", werr)
	}
	// The CA certificates (/etc/ssl/certs) and OpenSSL's directory
	// (/usr/lib/ssl), as on Debian.
	for _, p := range pythonRootTrees {
		if werr := addTree(add, filepath.Join(dir, "root", filepath.FromSlash(p)), p); werr != nil && !errors.Is(werr, fs.ErrNotExist) {
			return fmt.Errorf("python base: %w", werr)
		}
	}
	if err != nil {
		return fmt.Errorf("python base: %w", err)
	}
	_, err = fw.WriteTo(w)
	return err
}

// addTree adds the file or the tree at the host path root at boxDir, with
// their permissions; the directory usr/local/bin itself is not added again.
func addTree(add func(fsimage.Entry, func() (io.ReadCloser, error)), root, boxDir string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		rel, _ := filepath.Rel(root, p)
		boxPath := boxDir
		if rel != "." {
			boxPath += "/" + filepath.ToSlash(rel)
		} else if boxDir == "usr/local/bin" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			add(fsimage.Entry{Path: boxPath, Type: fsimage.TypeDir, Mode: fi.Mode().Perm()}, nil)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			add(fsimage.Entry{Path: boxPath, Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: target}, nil)
		case d.Type().IsRegular():
			add(fsimage.Entry{Path: boxPath, Type: fsimage.TypeReg, Mode: fi.Mode().Perm(), Size: fi.Size()},
				func() (io.ReadCloser, error) { return os.Open(p) })
		}
		return nil
	})
}

// Stamp identifies the inputs of base b's layer in dir by the names,
// sizes and modification times of the files WriteBase reads, so a build
// can reuse the layer it wrote last time without reading them again.
func Stamp(b Base, dir string) (string, error) {
	var roots []string
	switch b {
	case Scratch:
		return "scratch", nil
	case Shell:
		roots = []string{filepath.Join(dir, BusyboxModule), filepath.Join(dir, AppletsFile)}
	case Python:
		py := filepath.Join(dir, PythonDir)
		roots = []string{filepath.Join(py, "python.wasm"), filepath.Join(py, "lib", "python"+PythonVersion), filepath.Join(py, "bin"), filepath.Join(py, "pip.conf")}
		for _, p := range pythonRootTrees {
			roots = append(roots, filepath.Join(py, "root", filepath.FromSlash(p)))
		}
	default:
		return "", fmt.Errorf("unknown base %q", b)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", b)
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil && p == root && errors.Is(err, fs.ErrNotExist) && b == Python && !strings.HasSuffix(root, ".wasm") {
				fmt.Fprintf(h, "%s\x00none\x00", p) // optional: no scripts, no pip.conf
				return nil
			}
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%v\x00%d\x00%d\x00", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("%s base: %w", b, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
