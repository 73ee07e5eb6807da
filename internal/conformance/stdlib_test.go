package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/internal/testutil"
)

// leftOut is what shims/python/package.sh may leave out of CPython's Lib/,
// by module or package name, each with its reason (shims/python/README.md,
// "What is left out"). The test keeps its own copy of the rule, so that a
// module dropped by mistake fails here. "*" matches one name component.
var leftOut = []struct{ module, reason string }{
	{"test", "a test suite"},
	{"*.test", "a test suite"},
	{"*.tests", "a test suite"},
	{"idlelib.idle_test", "a test suite"},
	{"tkinter", tk}, {"idlelib", tk}, {"turtle", tk}, {"turtledemo", tk},
	{"ctypes", "no _ctypes: WASI cannot load native code (no dlopen, no libffi)"},
	{"curses", "no _curses: no terminal library"},
	{"msilib", windows}, {"asyncio.windows_events", windows}, {"asyncio.windows_utils", windows},
	{"multiprocessing.popen_spawn_win32", windows}, {"distutils._msvccompiler", windows},
	{"distutils.msvc9compiler", windows}, {"distutils.msvccompiler", windows},
	{"encodings.mbcs", windows}, {"encodings.oem", windows},
}

const (
	tk      = "no _tkinter: no display, no Tcl/Tk for WASI"
	windows = "Windows only (_winapi, _msi, winreg, codecs.mbcs_encode)"
)

// importFails are the modules of the packaged stdlib that ship but cannot
// import in a box, with the WASI reason; any other import error fails the
// test, and so does an entry whose module imports.
var importFails = []struct{ module, reason string }{
	{"dbm.gnu", "no _gdbm: the build has no gdbm"},
	{"dbm.ndbm", "no _dbm: the build has no ndbm"},
	{"multiprocessing.*", "WASI has no processes (no _multiprocessing, mmap, ctypes or fd passing)"},
	{"concurrent.futures.process", "no _multiprocessing: WASI has no processes"},
	{"pty", "no termios: WASI has no terminals"},
	{"tty", "no termios: WASI has no terminals"},
	{"lib2to3.pgen2.conv", "not WASI: it fails on every platform (an absolute `from pgen2 import` left over in CPython's Lib/)"},
}

// skipImport are modules that do something when imported rather than
// define something: a package's __main__ runs its command line.
func skipImport(m string) bool {
	return m == "__main__" || strings.HasSuffix(m, ".__main__")
}

// importScript imports every module named in the file argv[1] in one
// interpreter and prints one line per module that does not import.
const importScript = `import importlib, sys, warnings
warnings.simplefilter("ignore")
names = open(sys.argv[1]).read().split()
bad = 0
for name in names:
    try:
        importlib.import_module(name)
    except BaseException as e:
        bad += 1
        msg = str(e).replace("\n", " ")
        print("FAIL %s\t%s: %s" % (name, type(e).__name__, msg), flush=True)
print("imported %d of %d" % (len(names) - bad, len(names)), flush=True)
`

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// buildCLI builds the wasmbox CLI once for the tests of this package.
func buildCLI(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		root, err := testutil.ModuleRoot()
		if err != nil {
			cliErr = err
			return
		}
		dir, err := os.MkdirTemp("", "wasmbox-conformance-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "wasmbox")
		build := exec.Command("go", "build", "-o", cliPath, "./cmd/wasmbox")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("building wasmbox: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}

// stdlibModules lists the modules under a stdlib directory (.py, or .pyc
// where the sources were dropped), site-packages and lib-dynload aside.
func stdlibModules(lib string) (map[string]bool, error) {
	mods := map[string]bool{}
	err := filepath.WalkDir(lib, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(lib, p)
		if d.IsDir() {
			switch rel {
			case "site-packages", "lib-dynload":
				return filepath.SkipDir
			}
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return nil
		}
		base := strings.TrimSuffix(strings.TrimSuffix(rel, ".pyc"), ".py")
		if base == rel || strings.Contains(filepath.Base(base), ".") {
			return nil
		}
		name := strings.ReplaceAll(filepath.ToSlash(base), "/", ".")
		name = strings.TrimSuffix(name, ".__init__")
		mods[name] = true
		return nil
	})
	return mods, err
}

// matchModule reports whether module m is pattern or inside it.
func matchModule(pattern, m string) bool {
	pp, mp := strings.Split(pattern, "."), strings.Split(m, ".")
	if len(mp) < len(pp) {
		return false
	}
	for i := range pp {
		if ok, _ := path.Match(pp[i], mp[i]); !ok {
			return false
		}
	}
	return true
}

// pythonBase returns the packaged stdlib of the python stand-in, the
// compiled Lib/ it came from, and the python version (3.11).
func pythonBase(t *testing.T) (packaged, compiled, version string) {
	t.Helper()
	py := filepath.Join(testutil.ShimsDir(t), "python")
	libs, _ := filepath.Glob(filepath.Join(py, "lib", "python3.*"))
	if len(libs) != 1 {
		t.Fatalf("%s: want one lib/python3.X, have %v", py, libs)
	}
	packaged = libs[0]
	version = strings.TrimPrefix(filepath.Base(packaged), "python")
	data, err := os.ReadFile(filepath.Join(py, "manifest.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if dir, ok := strings.CutPrefix(sc.Text(), "compiled:"); ok {
			compiled = filepath.Join(strings.TrimSpace(dir), "lib", filepath.Base(packaged))
		}
	}
	if compiled == "" {
		t.Fatalf("%s/manifest.txt names no compiled CPython", py)
	}
	return packaged, compiled, version
}

// TestStdlibPackaged checks that the python base leaves out of CPython's
// Lib/ only what leftOut names: a pruning mistake in package.sh (such as
// _pydecimal, which decimal and test_decimal fall back to) fails here.
func TestStdlibPackaged(t *testing.T) {
	packaged, compiled, _ := pythonBase(t)
	have, err := stdlibModules(packaged)
	if err != nil {
		t.Fatal(err)
	}
	all, err := stdlibModules(compiled)
	if err != nil {
		t.Fatalf("%v (the compiled CPython package.sh used is gone: run make shims)", err)
	}
	used := map[string]bool{}
	var missing []string
	for m := range all {
		if have[m] {
			continue
		}
		ok := false
		for _, l := range leftOut {
			if matchModule(l.module, m) {
				ok, used[l.module] = true, true
			}
		}
		if !ok {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the python base leaves out %d modules of CPython's Lib/ with no WASI reason (shims/python/package.sh): %s", len(missing), strings.Join(missing, " "))
	}
	for _, l := range leftOut {
		if !used[l.module] && !have[l.module] {
			t.Logf("left-out rule %s matches nothing in this CPython", l.module)
		}
	}
	if len(have) < 500 {
		t.Errorf("only %d modules packaged", len(have))
	}
}

// TestStdlibImports imports every module of the packaged stdlib in one
// python process in a box: each imports, or fails for the WASI reason of
// importFails.
func TestStdlibImports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a python box")
	}
	packaged, _, version := pythonBase(t)
	have, err := stdlibModules(packaged)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for m := range have {
		if !skipImport(m) {
			names = append(names, m)
		}
	}
	sort.Strings(names)
	wasmbox := buildCLI(t)
	home := t.TempDir()
	ctxDir := filepath.Join(home, "context")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Dockerfile":  "FROM python:" + version + "-slim\nCOPY imports.py modules.txt /imports/\n",
		"imports.py":  importScript,
		"modules.txt": strings.Join(names, "\n") + "\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "WASMBOX_HOME="+filepath.Join(home, "home"), "WASMBOX_SHIMS="+testutil.ShimsDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, wasmbox, "build", "-t", "imports", "--progress", "quiet", ctxDir)
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the box: %v\n%s", err, out)
	}
	run := exec.CommandContext(ctx, wasmbox, "run", "imports", "python", "/imports/imports.py", "/imports/modules.txt")
	run.Env = env
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil || !strings.Contains(string(out), "imported ") {
		t.Fatalf("python in the box: %v\n%s\n%s", err, out, stderr.String())
	}
	failed := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "FAIL "); ok {
			m, msg, _ := strings.Cut(rest, "\t")
			failed[m] = msg
		}
	}
	used := map[string]bool{}
	for _, m := range names {
		msg, bad := failed[m]
		reason := ""
		for _, f := range importFails {
			if matchModule(f.module, m) {
				reason = f.reason
				if bad {
					used[f.module] = true
				}
			}
		}
		if bad && reason != "" {
			t.Logf("%s: %s (%s)", m, msg, reason)
		}
		if bad && reason == "" {
			t.Errorf("%s does not import in a box, and importFails gives no WASI reason: %s", m, msg)
		}
	}
	for _, f := range importFails {
		if !used[f.module] {
			t.Errorf("importFails: %s imports in a box (or is not packaged): remove it from the table", f.module)
		}
	}
	t.Logf("%s", bytes.TrimSpace(out[bytes.LastIndex(out, []byte("imported ")):]))
}
