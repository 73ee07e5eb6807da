package applets

import (
	"context"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Env is what an applet may use of its process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Dir is the absolute working directory; relative paths are resolved
	// against it (use Abs), never against the process's own.
	Dir string
	// Environ holds KEY=VALUE pairs.
	Environ []string
	// Exec runs another command of the box (xargs, find -exec, env CMD)
	// with the given Env and returns its exit status (127 not found, 126
	// cannot execute). Nil means commands cannot be run.
	Exec func(ctx context.Context, env *Env, args []string) int
}

// Func is an applet. args[0] is the name it was called by. It returns the
// exit status.
type Func func(ctx context.Context, env *Env, args []string) int

var registry = map[string]Func{}

// register adds an applet; called from init functions of the applet files.
func register(name string, f Func) { registry[name] = f }

// Lookup returns the applet called name.
func Lookup(name string) (Func, bool) {
	f, ok := registry[name]
	return f, ok
}

// Names returns the names of all applets, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Getenv returns the value of key in e.Environ (the last one wins).
func (e *Env) Getenv(key string) string {
	v, _ := e.LookupEnv(key)
	return v
}

// LookupEnv is Getenv that also says whether key is set.
func (e *Env) LookupEnv(key string) (string, bool) {
	for i := len(e.Environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e.Environ[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Abs resolves p against the working directory (the root when Dir is
// empty: never the process's own).
func (e *Env) Abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	dir := e.Dir
	if dir == "" {
		dir = "/"
	}
	return filepath.Join(dir, p)
}
