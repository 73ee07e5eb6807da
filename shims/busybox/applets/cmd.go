package applets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// cmd is the running state every applet shares: its name, a buffered
// stdout and the exit status so far.
type cmd struct {
	ctx    context.Context
	env    *Env
	name   string
	out    *bufio.Writer
	outw   *errWriter
	status int
}

func newCmd(ctx context.Context, env *Env, args []string) *cmd {
	ew := &errWriter{w: env.Stdout}
	if ew.w == nil {
		ew.w = io.Discard
	}
	name := "?"
	if len(args) > 0 {
		name = args[0]
	}
	return &cmd{ctx: ctx, env: env, name: name, out: bufio.NewWriterSize(ew, 32<<10), outw: ew}
}

// errWriter remembers the first write error, so long loops can stop once
// the reader of stdout is gone.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// broken reports whether writing to stdout failed (or the context ended):
// loops stop then.
func (c *cmd) broken() bool {
	return c.outw.err != nil || c.ctx.Err() != nil
}

// stderr returns where messages go.
func (c *cmd) stderr() io.Writer {
	if c.env.Stderr == nil {
		return io.Discard
	}
	return c.env.Stderr
}

// warnf prints "name: message" on stderr without changing the status.
func (c *cmd) warnf(format string, a ...any) {
	c.out.Flush()
	fmt.Fprintf(c.stderr(), c.name+": "+format+"\n", a...)
}

// errorf prints "name: message" on stderr and sets the status to 1.
func (c *cmd) errorf(format string, a ...any) {
	c.warnf(format, a...)
	c.status = 1
}

// fail prints "name: message" and returns code, for early returns.
func (c *cmd) fail(code int, format string, a ...any) int {
	c.warnf(format, a...)
	c.out.Flush()
	return code
}

// finish flushes stdout and returns the exit status: code, or 141 (as if
// killed by SIGPIPE) when the reader went away, or 1 after another write
// error.
func (c *cmd) finish(code int) int {
	err := c.out.Flush()
	if err == nil {
		err = c.outw.err
	}
	if err != nil {
		if isBrokenPipe(err) {
			return 141
		}
		fmt.Fprintf(c.stderr(), "%s: write error: %s\n", c.name, errText(err))
		return 1
	}
	if code == 0 && c.ctx.Err() != nil {
		return 130
	}
	return code
}

// done is finish(c.status).
func (c *cmd) done() int { return c.finish(c.status) }

func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed)
}

// errText is the strerror-like text of err: "No such file or directory".
func errText(err error) string {
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	case errors.As(err, &se):
		err = se.Err
	}
	s := err.Error()
	if errors.Is(err, io.ErrClosedPipe) {
		s = "broken pipe"
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// abs resolves p against the working directory.
func (c *cmd) abs(p string) string { return c.env.Abs(p) }

// open opens an input operand: "-" is stdin (not closed by the returned
// closer).
func (c *cmd) open(name string) (io.ReadCloser, error) {
	if name == "-" {
		if c.env.Stdin == nil {
			return io.NopCloser(eofReader{}), nil
		}
		if rs, ok := c.env.Stdin.(io.ReadSeeker); ok {
			return nopSeekCloser{rs}, nil
		}
		return io.NopCloser(c.env.Stdin), nil
	}
	f, err := os.Open(c.abs(name))
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EISDIR}
	}
	return f, nil
}

// nopSeekCloser keeps stdin seekable (head leaves a file just after what
// it read) while closing nothing.
type nopSeekCloser struct{ io.ReadSeeker }

func (nopSeekCloser) Close() error { return nil }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// stdin returns the applet's standard input, never nil.
func (c *cmd) stdin() io.Reader {
	if c.env.Stdin == nil {
		return eofReader{}
	}
	return c.env.Stdin
}

// eachInput calls f for every input operand (stdin when there are none),
// reporting open errors as "name: file: error" and going on.
func (c *cmd) eachInput(files []string, f func(name string, r io.Reader) error) {
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		if c.broken() {
			return
		}
		rc, err := c.open(name)
		if err != nil {
			c.errorf("%s: %s", name, errText(err))
			continue
		}
		err = f(name, rc)
		rc.Close()
		if err != nil && c.outw.err == nil {
			c.errorf("%s: %s", name, errText(err))
		}
	}
}

// exec runs another command of the box through Env.Exec, with env's
// streams unless the caller replaced them. Without Env.Exec, applets of
// this package still run in-process; anything else is not found (127).
func (c *cmd) exec(env *Env, args []string) int {
	c.out.Flush()
	if c.env.Exec != nil {
		return c.env.Exec(c.ctx, env, args)
	}
	if f, ok := Lookup(args[0]); ok {
		return f(c.ctx, env, args)
	}
	fmt.Fprintf(env.Stderr, "%s: %s: No such file or directory\n", c.name, args[0])
	return 127
}

// subEnv is a copy of the applet's Env for a command it runs.
func (c *cmd) subEnv() *Env {
	e := *c.env
	e.Environ = append([]string(nil), c.env.Environ...)
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	return &e
}
