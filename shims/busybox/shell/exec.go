package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/wasmbox/wasmbox/internal/envlist"
	"github.com/wasmbox/wasmbox/shims/busybox/applets"
	"github.com/wasmbox/wasmbox/shims/busybox/proc"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
)

// multicallName is the base name of the multi-call module's file.
const multicallName = "busybox"

// defaultPath is the search path when PATH is unset (Docker's default).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execHandler runs the simple commands that are neither functions nor
// builtins.
func execHandler(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	env := &applets.Env{
		Stdin:   unwrapReader(hc.Stdin),
		Stdout:  hc.Stdout,
		Stderr:  hc.Stderr,
		Dir:     hc.Dir,
		Environ: environ(hc.Env),
		Exec:    Exec,
	}
	if st := run(ctx, env, args, "sh: "); st != 0 {
		return interp.ExitStatus(uint8(st))
	}
	return nil
}

// Exec runs a command of the box with env, as the shell does: args[0] is
// looked up in env's PATH relative to env.Dir; the multi-call module's
// applets and sh run in-process, other programs as child instances. It
// returns the exit status: 127 when the command is not found, 126 when it
// cannot be executed (after a message on env.Stderr). It is what the
// applets' Env.Exec should be.
func Exec(ctx context.Context, env *applets.Env, args []string) int {
	return run(ctx, env, args, "")
}

// run is Exec with a prefix for its messages ("sh: " in the shell).
func run(ctx context.Context, env *applets.Env, args []string, prefix string) int {
	stderr := writerOr(env.Stderr)
	if len(args) == 0 {
		return 0
	}
	name := args[0]
	path, err := lookPath(env, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "%s%s: not found\n", prefix, name)
			return 127
		}
		fmt.Fprintf(stderr, "%s%s: %v\n", prefix, name, err)
		return 126
	}
	if isMulticall(path) {
		return runApplet(ctx, env, args, stderr)
	}
	if argv, ok := scriptArgv(path, args); ok {
		return runApplet(ctx, env, argv, stderr)
	}
	return runChild(ctx, env, path, args, prefix, stderr)
}

// scriptArgv returns the command line that runs the file at path in
// this process, when it is a script for the multi-call module: a #! line
// naming it (#!/bin/sh, #!/usr/bin/env ...), as the kernel would run it,
// or a text file without #!, which POSIX shells run with sh when the
// system cannot execute it. Wasm modules, native programs and scripts of
// other interpreters start as children; the runner resolves those.
func scriptArgv(path string, args []string) ([]string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = head[:n]
	line, _, _ := bytes.Cut(head, []byte("\n"))
	switch {
	case bytes.HasPrefix(head, []byte("#!")):
		// Like Linux: the interpreter, then the rest of the line as at
		// most one argument.
		text := strings.TrimSpace(strings.TrimSuffix(string(line[2:]), "\r"))
		interpreter, opt, _ := strings.Cut(text, " ")
		if !filepath.IsAbs(interpreter) || !isMulticall(interpreter) {
			return nil, false
		}
		argv := []string{interpreter}
		if opt = strings.TrimSpace(opt); opt != "" {
			argv = append(argv, opt)
		}
		return append(append(argv, path), args[1:]...), true
	case bytes.HasPrefix(head, []byte("\x00asm")), bytes.HasPrefix(head, []byte("\x7fELF")),
		bytes.IndexByte(line, 0) >= 0:
		return nil, false
	default:
		return append([]string{"sh", path}, args[1:]...), true
	}
}

// runApplet runs the multi-call module in-process. An applet that panics
// fails its command, not the shell.
func runApplet(ctx context.Context, env *applets.Env, args []string, stderr io.Writer) (st int) {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(stderr, "%s: internal error: %v\n%s", filepath.Base(args[0]), v, debug.Stack())
			st = 70 // EX_SOFTWARE
		}
	}()
	// An applet run in-process counts as a process of the box (the
	// runner's process limit), as it would be one elsewhere.
	if err := proc.BeginTask(); err != nil {
		fmt.Fprintf(stderr, "%s: cannot start: %v\n", filepath.Base(args[0]), err)
		return 126
	}
	defer proc.EndTask()
	e := *env
	if e.Stdin == nil {
		e.Stdin = strings.NewReader("")
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	e.Stderr = stderr
	e.Environ = withPWD(e.Environ, e.Dir)
	return Multicall(ctx, &e, args)
}

func runChild(ctx context.Context, env *applets.Env, path string, args []string, prefix string, stderr io.Writer) int {
	p, err := proc.Start(ctx, &proc.Cmd{
		Path:   path,
		Args:   args,
		Env:    withPWD(env.Environ, env.Dir),
		Dir:    env.Dir,
		Stdin:  childReader(env.Stdin),
		Stdout: childWriter(env.Stdout),
		Stderr: childWriter(env.Stderr),
	})
	if err != nil {
		var se *proc.StartError
		if errors.As(err, &se) {
			msg := se.Msg
			if msg == "" {
				msg = args[0] + ": " + se.Errno.Error()
			}
			fmt.Fprintf(stderr, "%s%s\n", prefix, msg)
			return se.ExitCode()
		}
		var errno proc.Errno
		if errors.As(err, &errno) {
			err = errno
		}
		fmt.Fprintf(stderr, "%s%s: %v\n", prefix, args[0], err)
		return 126
	}
	st, err := p.Wait()
	if err != nil {
		fmt.Fprintf(stderr, "%s%s: %v\n", prefix, args[0], err)
		if st == 0 {
			st = 1
		}
	}
	return st
}

// lookPath finds the executable file name in env's PATH (or name itself
// when it has a slash), relative to env.Dir. The error matches
// fs.ErrNotExist when there is no such file, or says why the file found
// cannot be executed.
func lookPath(env *applets.Env, name string) (string, error) {
	if name == "" {
		return "", fs.ErrNotExist
	}
	if strings.Contains(name, "/") {
		p := absPath(env.Dir, name)
		return p, checkExecutable(p)
	}
	search, ok := env.LookupEnv("PATH")
	if !ok {
		search = defaultPath
	}
	var denied error
	for _, dir := range filepath.SplitList(search) {
		if dir == "" {
			dir = "."
		}
		p := absPath(env.Dir, filepath.Join(dir, name))
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if denied == nil && !errors.Is(err, fs.ErrNotExist) {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", fs.ErrNotExist
}

var (
	errIsDir  = errors.New("is a directory")
	errNoExec = errors.New("permission denied")
)

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fs.ErrNotExist
	}
	if fi.IsDir() {
		return errIsDir
	}
	if !executable(path, fi) {
		return errNoExec
	}
	return nil
}

// executable reports whether the box gives path execute permission. On
// wasip1 the modes are the box's (os reports 0600 for all files); when the
// box cannot tell, every file counts as executable and the runner decides.
func executable(path string, fi fs.FileInfo) bool {
	a, err := proc.Stat(path)
	if err == nil {
		return a.Mode&0o111 != 0
	}
	if runtime.GOOS == "wasip1" {
		return true
	}
	return fi.Mode()&0o111 != 0
}

// isMulticall reports whether path is the multi-call module: a file named
// busybox, or a chain of symlinks one of which points at such a name.
func isMulticall(path string) bool {
	for range 8 {
		if filepath.Base(path) == multicallName {
			return true
		}
		target, err := os.Readlink(path)
		if err != nil {
			return false
		}
		if filepath.Base(target) == multicallName {
			return true
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return false
}

// environ lists the exported variables of env as KEY=VALUE pairs.
func environ(env expand.Environ) []string {
	var list []string
	for name, vr := range env.Each {
		if !vr.IsSet() {
			// Set globally but unset here: drop what was listed.
			list = envlist.Unset(list, name)
		}
		if vr.Exported && vr.Kind == expand.String {
			list = append(list, name+"="+vr.String())
		}
	}
	return list
}

// withPWD returns environ with PWD set to dir.
func withPWD(environ []string, dir string) []string {
	if dir == "" {
		return environ
	}
	return append(envlist.Unset(environ, "PWD"), "PWD="+dir)
}

// unwrapReader returns the reader the interpreter wrapped: with the
// wasip1 overlay the interpreter's stdin is an unexported
// struct{ io.Reader } around what it was given (os.Stdin, a pipe, a
// file), and proc shares os.Stdin with a child only when it sees it.
func unwrapReader(r io.Reader) io.Reader {
	if r == nil {
		return nil
	}
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Struct || v.NumField() != 1 {
		return r
	}
	f := v.Type().Field(0)
	if !f.Anonymous || f.Name != "Reader" || f.Type != reflect.TypeFor[io.Reader]() {
		return r
	}
	if inner, ok := v.Field(0).Interface().(io.Reader); ok && inner != nil {
		return inner
	}
	return r
}

func absPath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	if dir == "" {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return filepath.Join(dir, p)
}

// errText is the message of err without the operation and path that
// fs.PathError repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
