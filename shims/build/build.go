package build

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wasmbox/wasmbox/shims/busybox/shell"
)

// recipeVersion is part of the build key: change it whenever the way the
// module is built changes (flags, overlay), so old outputs are rebuilt.
const recipeVersion = "busybox-build-3"

// ModulePath is the Go module holding the shims.
const ModulePath = "github.com/wasmbox/wasmbox"

const (
	// pkgDir is the multi-call module's package, relative to the root.
	pkgDir = "shims/busybox"
	// OutName is the file Build writes in its output directory.
	OutName = "busybox.wasm"
	keyName = OutName + ".key"
	// AppletsName lists, one per line, the names the module answers to.
	AppletsName = "busybox.applets"
)

// Option configures Build.
type Option func(*options) error

type options struct {
	root  string
	goCmd string
}

// WithRoot sets the repository root: the directory of the go.mod of
// ModulePath. Default: found by Root from the working directory.
func WithRoot(dir string) Option {
	return func(o *options) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		o.root = abs
		return nil
	}
}

// WithGo sets the go command to build with. Default: "go" from PATH, else
// $GOROOT/bin/go.
func WithGo(path string) Option {
	return func(o *options) error {
		o.goCmd = path
		return nil
	}
}

// Build compiles the multi-call module to outDir/busybox.wasm and returns
// that path. When outDir already holds a module built from the same inputs
// (Go version, go.mod, go.sum, the sources under shims/busybox, this
// package's recipe), it returns at once.
func Build(ctx context.Context, outDir string, opts ...Option) (string, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return "", fmt.Errorf("building %s: %w", OutName, err)
		}
	}
	path, err := build(ctx, outDir, &o)
	if err != nil {
		return "", fmt.Errorf("building %s: %w", OutName, err)
	}
	// The list of links the base layer makes, from the same sources.
	list := strings.Join(shell.Names(), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(outDir, AppletsName), []byte(list), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", AppletsName, err)
	}
	return path, nil
}

func build(ctx context.Context, outDir string, o *options) (string, error) {
	if o.root == "" {
		root, err := Root()
		if err != nil {
			return "", err
		}
		o.root = root
	}
	if err := checkRoot(o.root); err != nil {
		return "", err
	}
	if o.goCmd == "" {
		g, err := findGo()
		if err != nil {
			return "", err
		}
		o.goCmd = g
	}
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return "", err
	}
	out := filepath.Join(outDir, OutName)

	goVersion, err := runGo(ctx, o, nil, "version")
	if err != nil {
		return "", err
	}
	overlay, err := interpOverlay(ctx, o)
	if err != nil {
		return "", err
	}
	key, err := buildKey(o.root, goVersion, overlay)
	if err != nil {
		return "", err
	}
	if old, err := os.ReadFile(filepath.Join(outDir, keyName)); err == nil && string(old) == key {
		if _, err := os.Stat(out); err == nil {
			return out, nil
		}
	}

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "wasmbox-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	overlayJSON, modFile, err := overlay.write(tmp, o.root)
	if err != nil {
		return "", err
	}
	tmpOut, err := os.CreateTemp(outDir, "."+OutName+"-*")
	if err != nil {
		return "", err
	}
	tmpOut.Close()
	defer os.Remove(tmpOut.Name())

	env := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off"}
	if _, err := runGo(ctx, o, env, "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-modfile="+modFile, "-overlay="+overlayJSON, "-o", tmpOut.Name(), "./"+pkgDir); err != nil {
		return "", err
	}
	if err := os.Rename(tmpOut.Name(), out); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(outDir, keyName), []byte(key), 0o644); err != nil {
		return "", err
	}
	return out, nil
}

// Root finds the repository root: the nearest directory, from the working
// directory up, whose go.mod declares ModulePath.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if checkRoot(dir) == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory", ModulePath)
		}
		dir = parent
	}
}

func checkRoot(dir string) error {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("%s is not the root of %s: %w", dir, ModulePath, err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			if strings.Trim(strings.TrimSpace(mod), `"`) == ModulePath {
				return nil
			}
			break
		}
	}
	return fmt.Errorf("%s: go.mod is not the one of %s", dir, ModulePath)
}

func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if goroot := os.Getenv("GOROOT"); goroot != "" {
		p := filepath.Join(goroot, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no go command in PATH or $GOROOT/bin")
}

// runGo runs the go command in the root with extra environment and
// returns its trimmed stdout; a failure carries its stderr.
func runGo(ctx context.Context, o *options, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, o.goCmd, args...)
	cmd.Dir = o.root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("go %s: %s", strings.Join(args, " "), msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// buildKey hashes everything that goes into the module.
func buildKey(root, goVersion string, overlay *shOverlay) (string, error) {
	h := sha256.New()
	field := func(name string, data []byte) {
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	field("recipe", []byte(recipeVersion))
	field("go", []byte(goVersion))
	for _, v := range []string{"GOFLAGS", "GOEXPERIMENT", "GOWASM"} {
		field("env "+v, []byte(os.Getenv(v)))
	}
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return "", err
		}
		field(name, b)
	}
	var files []string
	err := filepath.WalkDir(filepath.Join(root, pkgDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == "testdata" || p != filepath.Join(root, pkgDir) && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir // the go command ignores these too
			}
			return nil
		}
		if d.Type().IsRegular() && !strings.HasSuffix(name, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.Sort(files)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(root, p)
		field("file "+filepath.ToSlash(rel), b)
	}
	for _, p := range overlay.patches {
		field("patch "+p.dst, p.data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
