// Package testutil gives tests the real parts they run on: the built Wasm
// stand-ins and a shell base layer.
package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/flock"
	"github.com/wasmbox/wasmbox/shims"
)

var (
	shimsOnce sync.Once
	shimsDir  string
	shimsErr  error
)

// ShimsDir returns a directory holding the built stand-ins: $WASMBOX_SHIMS
// when set (make test sets it), else a build cached under the user's cache
// directory (the build skips itself when its inputs did not change).
func ShimsDir(t testing.TB) string {
	t.Helper()
	dir, err := Shims()
	if err != nil {
		t.Fatalf("building the Wasm stand-ins: %v", err)
	}
	return dir
}

// Shims is ShimsDir for code without a testing.TB (examples).
func Shims() (string, error) {
	shimsOnce.Do(func() {
		if d := os.Getenv(shims.EnvDir); d != "" {
			shimsDir = d
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			shimsErr = err
			return
		}
		shimsDir = filepath.Join(cache, "wasmbox", "test-shims")
		shimsErr = buildShims(shimsDir)
	})
	return shimsDir, shimsErr
}

func buildShims(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Test binaries of several packages may build at once: take turns.
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := flock.Lock(lock); err != nil {
		return err
	}
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "run", "./shims/build/buildshims", "-o", dir)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return &buildError{err: err, out: out.String()}
	}
	// CPython: the script (compile, then package) prints its cached output
	// directory last.
	py := exec.Command("bash", "shims/python/package.sh")
	py.Dir = root
	var pyOut, pyErr bytes.Buffer
	py.Stdout, py.Stderr = &pyOut, &pyErr
	if err := py.Run(); err != nil {
		return &buildError{err: err, out: pyErr.String()}
	}
	lines := strings.Split(strings.TrimSpace(pyOut.String()), "\n")
	link := filepath.Join(dir, shims.PythonDir)
	os.Remove(link)
	return os.Symlink(lines[len(lines)-1], link)
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// ModuleRoot is the directory of the wasmbox module.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

var (
	baseOnce sync.Once
	baseData []byte
)

// ShellBase returns the shell base layer, opened.
func ShellBase(t testing.TB) *fsimage.Image {
	t.Helper()
	dir := ShimsDir(t)
	baseOnce.Do(func() {
		var buf bytes.Buffer
		if _, err := shims.WriteBase(&buf, shims.Shell, dir); err != nil {
			t.Fatalf("writing the shell base: %v", err)
		}
		baseData = buf.Bytes()
	})
	img, err := fsimage.Open(bytes.NewReader(baseData), int64(len(baseData)))
	if err != nil {
		t.Fatalf("opening the shell base: %v", err)
	}
	return img
}

var (
	pyOnce sync.Once
	pyData []byte
	pyErr  error
)

// PythonBase returns the python base (the shell base and the python layer)
// as one tree.
func PythonBase(t testing.TB) fsimage.Tree {
	t.Helper()
	dir := ShimsDir(t)
	pyOnce.Do(func() {
		var buf bytes.Buffer
		_, pyErr = shims.WriteBase(&buf, shims.Python, dir)
		pyData = buf.Bytes()
	})
	if pyErr != nil {
		t.Fatalf("writing the python base: %v", pyErr)
	}
	img, err := fsimage.Open(bytes.NewReader(pyData), int64(len(pyData)))
	if err != nil {
		t.Fatalf("opening the python base: %v", err)
	}
	return fsimage.Stack(ShellBase(t), img)
}
