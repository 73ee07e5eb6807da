package shell

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/interp"
)

// The interpreter lacks umask and ulimit, and its trap knows only EXIT and
// ERR: `trap cleanup INT TERM EXIT` fails at INT without setting EXIT.
// Scripts (Dockerfile RUN lines especially) use all three, so the call
// handler adapts them. WASI has no signals, no umask and no resource
// limits of the POSIX kind.

// builtinState is what the adapted builtins remember, per shell.
type builtinState struct {
	umask int // only reported: boxes create files as with 022
}

// callHandler rewrites calls of umask, ulimit and trap into what the
// interpreter can run.
func (s *builtinState) callHandler(ctx context.Context, args []string) ([]string, error) {
	switch args[0] {
	case "umask":
		return s.umaskBuiltin(ctx, args[1:]), nil
	case "ulimit":
		return ulimitBuiltin(ctx, args[1:]), nil
	case "trap":
		return trapArgs(args), nil
	}
	return args, nil
}

var (
	succeed = []string{"true"}
	fail    = []string{"false"}
)

func (s *builtinState) umaskBuiltin(ctx context.Context, args []string) []string {
	hc := interp.HandlerCtx(ctx)
	symbolic := false
	if len(args) > 0 && args[0] == "-S" {
		symbolic, args = true, args[1:]
	}
	if len(args) == 0 {
		if !symbolic {
			fmt.Fprintf(hc.Stdout, "%04o\n", s.umask)
			return succeed
		}
		perm := func(shift int) string {
			bits := (^s.umask >> shift) & 7
			var b strings.Builder
			for i, c := range "rwx" {
				if bits&(4>>i) != 0 {
					b.WriteRune(c)
				}
			}
			return b.String()
		}
		fmt.Fprintf(hc.Stdout, "u=%s,g=%s,o=%s\n", perm(6), perm(3), perm(0))
		return succeed
	}
	if v, err := strconv.ParseUint(args[0], 8, 32); err == nil && v <= 0o777 {
		s.umask = int(v)
		return succeed
	}
	if strings.ContainsAny(args[0], "ugoa=+-") {
		return succeed // symbolic: accepted, not tracked
	}
	fmt.Fprintf(hc.Stderr, "umask: %s: invalid mode\n", args[0])
	return fail
}

func ulimitBuiltin(ctx context.Context, args []string) []string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return succeed // setting a limit: the runner sets the box's limits
		}
	}
	fmt.Fprintln(interp.HandlerCtx(ctx).Stdout, "unlimited")
	return succeed
}

// trapArgs keeps the EXIT and ERR conditions of a trap call and drops
// signals, which never arrive in a box.
func trapArgs(args []string) []string {
	rest := args[1:]
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	if len(rest) == 0 || strings.HasPrefix(rest[0], "-") && rest[0] != "-" {
		return args // listing, or options the interpreter handles
	}
	callback, conds := rest[0], rest[1:]
	if len(rest) == 1 {
		callback, conds = "-", rest // `trap SIG` resets SIG
	}
	kept := []string{"trap", "--", callback}
	for _, c := range conds {
		switch strings.TrimPrefix(strings.ToUpper(c), "SIG") {
		case "EXIT", "0":
			kept = append(kept, "EXIT")
		case "ERR":
			kept = append(kept, "ERR")
		}
	}
	if len(kept) == 3 {
		return succeed
	}
	return kept
}

// openHandler serves the device files scripts rely on without the box
// having to hold them: /dev/null, and /dev/stdin, /dev/stdout, /dev/stderr
// (and /dev/fd/0-2) as the shell's current streams, as bash does.
func openHandler(ctx context.Context, path string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	hc := interp.HandlerCtx(ctx)
	switch path {
	case "/dev/null":
		return devNull{}, nil
	case "/dev/stdin", "/dev/fd/0":
		return &stdStream{r: unwrapReader(hc.Stdin)}, nil
	case "/dev/stdout", "/dev/fd/1":
		return &stdStream{w: hc.Stdout}, nil
	case "/dev/stderr", "/dev/fd/2":
		return &stdStream{w: hc.Stderr}, nil
	}
	return interp.DefaultOpenHandler()(ctx, path, flag, perm)
}

// devNull reads as empty and discards writes.
type devNull struct{}

func (devNull) Read([]byte) (int, error)    { return 0, io.EOF }
func (devNull) Write(p []byte) (int, error) { return len(p), nil }
func (devNull) Close() error                { return nil }

// stdStream is one of the shell's streams opened by name; closing it
// leaves the stream open.
type stdStream struct {
	r io.Reader
	w io.Writer
}

func (s *stdStream) Read(p []byte) (int, error) {
	if s.r == nil {
		return 0, io.EOF
	}
	return s.r.Read(p)
}

func (s *stdStream) Write(p []byte) (int, error) {
	if s.w == nil {
		return 0, os.ErrInvalid
	}
	return s.w.Write(p)
}

func (s *stdStream) Close() error { return nil }

// childReader and childWriter give proc the stream behind our device
// files: nothing for /dev/null (no pipe to pump), the shell's own stream
// for /dev/std* (so that a child shares it).
func childReader(r io.Reader) io.Reader {
	switch v := r.(type) {
	case devNull:
		return nil
	case *stdStream:
		if v.r != nil {
			return childReader(v.r)
		}
	}
	return r
}

func childWriter(w io.Writer) io.Writer {
	switch v := w.(type) {
	case devNull:
		return nil
	case *stdStream:
		if v.w != nil {
			return childWriter(v.w)
		}
	}
	return w
}
