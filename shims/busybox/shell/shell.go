package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wasmbox/wasmbox/shims/busybox/applets"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// invocation is a parsed sh command line.
type invocation struct {
	setOpts     []string // for interp.Params: "-e", "+x", "-o", "pipefail", ...
	interactive bool
	command     string // the -c string
	hasCommand  bool
	file        string // the script file; "" with hasCommand false: stdin
	name        string // $0
	params      []string
}

// usageError is a bad sh command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseArgs parses `sh [-abcefilmnsuvx] [-o opt]... [-c CMD [NAME [ARG...]] | FILE [ARG...] | -s [ARG...]]`.
func parseArgs(args []string) (*invocation, error) {
	inv := &invocation{name: "sh"}
	if len(args) > 0 {
		inv.name = args[0]
	}
	readStdin := false
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" {
			i++
			break
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		on := a[0] == '-'
		for _, c := range a[1:] {
			switch c {
			case 'c':
				inv.hasCommand = on
			case 's':
				readStdin = on
			case 'i':
				inv.interactive = on
			case 'l', 'm', 'v', 'h', 'b', 'C':
				// Login shells, job control, verbose input, hashing,
				// notify and noclobber: accepted, without effect.
			case 'o':
				if i+1 >= len(args) {
					return nil, &usageError{string(a[0]) + "o: option requires an argument"}
				}
				i++
				inv.setOpts = append(inv.setOpts, string(a[0])+"o", args[i])
			case 'a', 'e', 'f', 'n', 'u', 'x':
				inv.setOpts = append(inv.setOpts, string(a[0])+string(c))
			default:
				return nil, &usageError{fmt.Sprintf("%c%c: invalid option", a[0], c)}
			}
		}
	}
	rest := args[i:]
	switch {
	case inv.hasCommand:
		if len(rest) == 0 {
			return nil, &usageError{"-c requires an argument"}
		}
		inv.command = rest[0]
		if len(rest) > 1 {
			inv.name = rest[1]
			inv.params = rest[2:]
		}
	case readStdin || len(rest) == 0:
		inv.params = rest
	default:
		inv.file, inv.name, inv.params = rest[0], rest[0], rest[1:]
	}
	return inv, nil
}

// Main runs the shell: `sh [-eux...] [-o OPT] [-c CMD [NAME [ARG...]] |
// FILE [ARG...] | -s [ARG...]]`, reading the script from env.Stdin when
// there is neither -c nor FILE. args[0] is the name the shell was called
// by ($0 unless -c gives a NAME or a FILE is run). It returns the exit
// status. env.Dir is the working directory (the process's own when
// empty); env.Exec is not used: commands run through Exec.
func Main(ctx context.Context, env *applets.Env, args []string) int {
	stderr := writerOr(env.Stderr)
	inv, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 2
	}
	stdin := env.Stdin
	if !inv.hasCommand && inv.file == "" {
		stdin = scriptStdin(stdin)
	}
	r, err := newRunner(env, stdin, inv)
	if err != nil {
		fmt.Fprintf(stderr, "sh: %v\n", err)
		return 2
	}
	parser := syntax.NewParser()
	switch {
	case inv.hasCommand:
		file, err := parser.Parse(strings.NewReader(inv.command), inv.name)
		if err != nil {
			fmt.Fprintf(stderr, "sh: %v\n", err)
			return 2
		}
		return status(r.Run(ctx, file), stderr)
	case inv.file != "":
		f, err := os.Open(absPath(r.Dir, inv.file))
		if err != nil {
			fmt.Fprintf(stderr, "sh: cannot open %s: %v\n", inv.file, errText(err))
			return 127
		}
		file, err := parser.Parse(f, inv.name)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "sh: %v\n", err)
			return 2
		}
		return status(r.Run(ctx, file), stderr)
	default:
		return runStdin(ctx, r, parser, stdin, inv.name, stderr)
	}
}

// scriptStdin is the stdin of a shell reading its script from stdin: the
// parser and the commands must read one stream, as they share one file
// descriptor in other shells. With OS pipes (natively) the interpreter
// would copy any reader but an *os.File into a pipe of its own at once,
// taking the script away from the parser; so a reader is put behind an
// OS pipe here. On wasip1 (no OS pipes) the interpreter reads the reader
// itself, only when a command reads.
func scriptStdin(r io.Reader) io.Reader {
	if r == nil {
		return strings.NewReader("")
	}
	if _, ok := r.(*os.File); ok {
		return r
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return r
	}
	go func() {
		io.Copy(pw, r)
		pw.Close()
	}()
	return pr
}

// arg0Var holds $0 for scripts read from stdin; see runStdin. It cannot
// be named in a script.
const arg0Var = "sh.arg0"

// runStdin runs the script on stdin one statement at a time, as it is read, so
// that commands typed at `wasmbox run -i` run at once. The interpreter
// knows $0 only when it runs a whole file, so $0 is rewritten to a hidden
// variable; the EXIT trap runs at the end.
func runStdin(ctx context.Context, r *interp.Runner, parser *syntax.Parser, stdin io.Reader, name string, stderr io.Writer) int {
	// A plain (unexported) shell variable, set through the AST as the
	// name is not one a script could assign.
	set := &syntax.Stmt{Cmd: &syntax.CallExpr{Assigns: []*syntax.Assign{{
		Name:  &syntax.Lit{Value: arg0Var},
		Value: &syntax.Word{Parts: []syntax.WordPart{&syntax.SglQuoted{Value: name}}},
	}}}}
	if err := r.Run(ctx, set); err != nil {
		return status(err, stderr)
	}
	var last error
	for stmt, err := range parser.StmtsSeq(stdin) {
		if err != nil {
			fmt.Fprintf(stderr, "sh: %v\n", err)
			return 2
		}
		rewriteArg0(stmt)
		last = r.Run(ctx, stmt)
		if r.Exited() {
			return status(last, stderr)
		}
	}
	// Running a (here empty) file is what runs the EXIT trap; keep the
	// last status unless the trap exits with its own.
	if err := r.Run(ctx, &syntax.File{Name: name}); r.Exited() || err != nil && !isExitStatus(err) {
		return status(err, stderr)
	}
	return status(last, stderr)
}

func rewriteArg0(node syntax.Node) {
	syntax.Walk(node, func(n syntax.Node) bool {
		if pe, ok := n.(*syntax.ParamExp); ok && pe.Param != nil && pe.Param.Value == "0" {
			pe.Param = &syntax.Lit{ValuePos: pe.Param.ValuePos, ValueEnd: pe.Param.ValueEnd, Value: arg0Var}
			pe.Short = false
		}
		return true
	})
}

func newRunner(env *applets.Env, stdin io.Reader, inv *invocation) (*interp.Runner, error) {
	params := append(inv.setOpts[:len(inv.setOpts):len(inv.setOpts)], "--")
	params = append(params, inv.params...)
	state := &builtinState{umask: 0o022}
	opts := []interp.RunnerOption{
		interp.Env(expand.ListEnviron(env.Environ...)),
		interp.Dir(env.Dir),
		interp.StdIO(stdin, env.Stdout, env.Stderr),
		interp.ExecHandler(execHandler),
		interp.StatHandler(statHandler),
		interp.OpenHandler(openHandler),
		interp.CallHandler(state.callHandler),
		interp.Interactive(inv.interactive),
		interp.Params(params...),
	}
	opts = append(opts, platformOptions...)
	r, err := interp.New(opts...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// status converts what Runner.Run returned to an exit status, printing
// errors that the interpreter did not print itself.
func status(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if st, ok := interp.IsExitStatus(err); ok {
		return int(st)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 130
	}
	fmt.Fprintf(stderr, "sh: %v\n", err)
	return 1
}

func isExitStatus(err error) bool {
	_, ok := interp.IsExitStatus(err)
	return ok
}

func writerOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
