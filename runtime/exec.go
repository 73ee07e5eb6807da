package runtime

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/envlist"
	"github.com/wasmbox/wasmbox/internal/units"
)

// DefaultPath is the PATH a box gets when its config sets none, as Docker's.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxInterpreterDepth bounds #! chains (a script whose interpreter is a script...).
const maxInterpreterDepth = 4

var (
	wasmMagic = []byte("\x00asm")
	elfMagic  = []byte("\x7fELF")
)

// program is what an argv runs: a Wasm module and the argv it gets (the
// interpreter's argv for a #! script).
type program struct {
	path string // the module's path in the box
	args []string
	key  [sha256.Size]byte // digest of the module
	code []byte            // nil when the module is compiled already
	// read reads the module's bytes when code is nil (they may be
	// needed after all: a run that cannot start from a snapshot).
	read func() ([]byte, error)
	// boxWritten: the module comes from the run's writable layer or a
	// mount, not from the box's image: it is compiled for the run only.
	boxWritten bool
}

// forRunOnly reports whether prog is compiled for its process only (on
// the scratch runtime): a module the box wrote, not compiled already.
func (prog *program) forRunOnly() bool { return prog.boxWritten && prog.code != nil }

// bytes returns the module's bytes, reading them if load did not.
func (prog *program) bytes() ([]byte, error) {
	if prog.code == nil && prog.read != nil {
		code, err := prog.read()
		if err != nil {
			return nil, notExecutable("%s: %v", prog.path, err)
		}
		prog.code = code
	}
	if prog.code == nil {
		return nil, fmt.Errorf("%s: module bytes missing", prog.path)
	}
	return prog.code, nil
}

// maxModuleSize bounds a module file the runner reads to compile: a box
// can write a sparse file of any size, which must not become host memory.
const maxModuleSize = 256 << 20

// lookPath finds name like execvp: names with a slash are taken as they are
// (relative to dir), others are searched in PATH.
func (ns *namespace) lookPath(name string, env []string, dir string) (string, error) {
	if name == "" {
		return "", notFound(`"": command not found`)
	}
	if strings.Contains(name, "/") {
		return absPath(dir, name), nil
	}
	pathVar, ok := envlist.Lookup(env, "PATH")
	if !ok {
		pathVar = DefaultPath
	}
	for _, d := range strings.Split(pathVar, ":") {
		if d == "" {
			d = "."
		}
		p := absPath(dir, path.Join(d, name))
		st, errno := ns.Stat(p)
		if errno == 0 && !st.Mode.IsDir() && st.Mode&0o111 != 0 {
			return p, nil
		}
	}
	return "", notFound("%s: command not found in the box (PATH=%s)", name, pathVar)
}

func absPath(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	if dir == "" {
		dir = "/"
	}
	return path.Join(dir, p)
}

// load reads the program at p (an absolute box path) for args, following
// #! lines. known reports whether a module with the given digest is
// compiled already, so its bytes need not be kept.
func (ns *namespace) load(p string, args []string, known func([32]byte) bool) (*program, error) {
	for depth := 0; ; depth++ {
		x, err := ns.readExecutable(p, args)
		if err != nil {
			return nil, err
		}
		data := x.head
		switch {
		case bytes.HasPrefix(data, wasmMagic):
			prog := &program{path: p, args: args}
			if key, ok := x.digest(); ok && known(key) {
				prog.key, prog.read = key, x.all
				return prog, nil
			}
			code, err := x.all()
			if err != nil {
				return nil, notExecutable("%s: %v", p, err)
			}
			prog.code, prog.boxWritten = code, x.boxWritten
			prog.key = sha256.Sum256(code)
			x.remember(prog.key)
			return prog, nil
		case bytes.HasPrefix(data, []byte("#!")):
			if depth >= maxInterpreterDepth {
				return nil, notExecutable("%s: too many levels of #! interpreters", p)
			}
			interp, arg := parseShebang(data)
			if interp == "" {
				return nil, notExecutable("%s: empty #! line", p)
			}
			newArgs := []string{interp}
			if arg != "" {
				newArgs = append(newArgs, arg)
			}
			newArgs = append(newArgs, p)
			if len(args) > 1 {
				newArgs = append(newArgs, args[1:]...)
			}
			p, args = absPath("/", interp), newArgs
		case bytes.HasPrefix(data, elfMagic):
			return nil, notExecutable("%s: cannot execute: it is a native (ELF) program, not a Wasm module; native programs never run in a box", p)
		default:
			return nil, notExecutable("%s: cannot execute: exec format error (neither a Wasm module nor a #! script)", p)
		}
	}
}

// executable is an executable file found by load: its first bytes, and how
// to read it whole and remember its digest.
type executable struct {
	// boxWritten: the run wrote it (writable layer, mount).
	boxWritten bool
	head       []byte
	all        func() ([]byte, error)
	digest     func() ([32]byte, bool)
	remember   func([32]byte)
}

// readExecutable resolves p in the namespace and checks it can be run.
func (ns *namespace) readExecutable(p string, args []string) (*executable, error) {
	l, errno, done := ns.at(p, true)
	done() // what follows reads a file; a race changes only which one
	if errno != 0 {
		l = ns.route(p) // for the error the file system gives
	}
	fsys, relPath := l.fsys, l.rel
	if l.mount == rootMount {
		if ns.route(p).mount != rootMount {
			p = l.path // reached through a mount: resolved in the namespace
		}
		return ns.root.readExecutable(p, args)
	}
	name := p
	if len(args) > 0 && !strings.Contains(args[0], "/") {
		name = args[0]
	}
	st, errno := fsys.Stat(relPath)
	switch errno {
	case 0:
	case experimentalsys.ENOENT, experimentalsys.ENOTDIR:
		return nil, notFound("%s: no such file or directory in the box", name)
	default:
		return nil, notExecutable("%s: %v", name, errno)
	}
	if !st.Mode.IsRegular() {
		return nil, notExecutable("%s: cannot execute: not a regular file", p)
	}
	if st.Mode&0o111 == 0 {
		return nil, notExecutable("%s: cannot execute: permission denied (not executable)", p)
	}
	if st.Size > maxModuleSize {
		return nil, notExecutable("%s: cannot execute: larger than %s", p, units.Size(maxModuleSize))
	}
	readAll := func() ([]byte, error) {
		f, errno := fsys.OpenFile(relPath, experimentalsys.O_RDONLY, 0)
		if errno != 0 {
			return nil, errno
		}
		defer f.Close()
		var out []byte
		buf := make([]byte, 64<<10)
		for {
			n, errno := f.Read(buf)
			if errno != 0 {
				return nil, errno
			}
			if n == 0 {
				return out, nil
			}
			out = append(out, buf[:n]...)
			if len(out) > maxModuleSize {
				return nil, fmt.Errorf("cannot execute: larger than %s", units.Size(maxModuleSize))
			}
		}
	}
	data, err := readAll()
	if err != nil {
		return nil, notExecutable("%s: %v", p, err)
	}
	return &executable{
		boxWritten: true,
		head:       data[:min(len(data), 256)],
		all:        func() ([]byte, error) { return data, nil },
		digest:     func() ([32]byte, bool) { return [32]byte{}, false },
		remember:   func([32]byte) {},
	}, nil
}

// readExecutable resolves p in the overlay and returns its first bytes.
func (o *overlay) readExecutable(p string, args []string) (*executable, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	r, errno := o.resolve(strings.TrimPrefix(path.Clean(p), "/"), true)
	if errno == 0 && !r.exists() {
		errno = experimentalsys.ENOENT
	}
	name := p
	if len(args) > 0 && !strings.Contains(args[0], "/") {
		name = args[0]
	}
	switch errno {
	case 0:
	case experimentalsys.ENOENT, experimentalsys.ENOTDIR:
		return nil, notFound("%s: no such file or directory in the box", name)
	default:
		return nil, notExecutable("%s: %v", name, errno)
	}
	if r.typ() != fsimage.TypeReg {
		return nil, notExecutable("%s: cannot execute: not a regular file", p)
	}
	if o.stat(r).Mode&0o111 == 0 {
		return nil, notExecutable("%s: cannot execute: permission denied (not executable)", p)
	}
	head := make([]byte, 256)
	n, err := o.readAt(r, head, 0)
	if err != nil {
		return nil, notExecutable("%s: %v", p, err)
	}
	return &executable{
		boxWritten: r.n != nil,
		head:       head[:n],
		all:        func() ([]byte, error) { return o.readAll(r) },
		digest:     func() ([32]byte, bool) { return o.digestFor(r) },
		remember:   func(d [32]byte) { o.rememberDigest(r, d) },
	}, nil
}

func (o *overlay) readAt(r *ref, b []byte, off int64) (int, error) {
	if r.n != nil {
		return r.n.data.readAt(b, off), nil
	}
	sr, err := o.lower.Content(r.lower.Path)
	if err != nil {
		return 0, err
	}
	n, err := sr.ReadAt(b, off)
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func (o *overlay) readAll(r *ref) ([]byte, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if r.n != nil {
		if r.n.data.size > maxModuleSize {
			return nil, fmt.Errorf("cannot execute: larger than %s", units.Size(maxModuleSize))
		}
		return r.n.data.bytes(), nil
	}
	sr, err := o.lower.Content(r.lower.Path)
	if err != nil {
		return nil, err
	}
	if sr.Size() > maxModuleSize {
		return nil, fmt.Errorf("cannot execute: larger than %s", units.Size(maxModuleSize))
	}
	b := make([]byte, sr.Size())
	_, err = io.ReadFull(sr, b)
	return b, err
}

// digestFor returns the remembered digest of a lower file (files of the
// writable layer may change, so they are hashed each time).
func (o *overlay) digestFor(r *ref) ([32]byte, bool) {
	if r.n != nil {
		return [32]byte{}, false
	}
	return o.digests.get(r.lower.Path)
}

func (o *overlay) rememberDigest(r *ref, d [32]byte) {
	if r.n != nil {
		return
	}
	o.digests.put(r.lower.Path, d)
}

// moduleDigests remembers the digests of the lower files run as programs,
// by path. The overlays of one Box share one: its layers never change, and
// hashing a module on every run cost more than a Python start-up's import
// system (8 MB for python.wasm, ~7 ms a run).
type moduleDigests struct {
	mu sync.Mutex
	m  map[string][32]byte
}

func (c *moduleDigests) get(p string) ([32]byte, bool) {
	if c == nil {
		return [32]byte{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[p]
	return d, ok
}

func (c *moduleDigests) put(p string, d [32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][32]byte{}
	}
	c.m[p] = d
}

// parseShebang returns the interpreter and its optional single argument,
// as Linux does: everything after the first blank is one argument.
func parseShebang(data []byte) (interp, arg string) {
	line := data[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.TrimSpace(strings.TrimSuffix(string(line), "\r"))
	interp, arg, _ = strings.Cut(s, " ")
	if i := strings.IndexByte(interp, '\t'); i >= 0 {
		interp, arg = interp[:i], strings.TrimSpace(interp[i+1:]+" "+arg)
	}
	return interp, strings.TrimSpace(arg)
}
