package applets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

func init() {
	register("test", testApplet)
	register("[", testApplet)
}

type testErr struct{ msg string }

func (e *testErr) Error() string { return e.msg }

type tester struct {
	c    *cmd
	args []string
	pos  int
}

// testApplet is POSIX test(1) with GNU's extensions (==, -nt, -ot, -ef,
// -a, -o, parentheses). Status 0 true, 1 false, 2 error.
func testApplet(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	a := args[1:]
	if c.name == "[" {
		if len(a) == 1 && (a[0] == "--help" || a[0] == "--version") {
			return c.done()
		}
		if len(a) == 0 || a[len(a)-1] != "]" {
			return c.fail(2, "missing `]'")
		}
		a = a[:len(a)-1]
	}
	t := &tester{c: c, args: a}
	ok, err := t.run()
	if err != nil {
		return c.fail(2, "%s", err)
	}
	if ok {
		return c.finish(0)
	}
	return c.finish(1)
}

func (t *tester) run() (bool, error) {
	a := t.args
	switch len(a) {
	case 0:
		return false, nil
	case 1:
		return a[0] != "", nil
	case 2:
		if a[0] == "!" {
			return a[1] == "", nil
		}
		if isUnaryTest(a[0]) {
			return t.unary(a[0], a[1])
		}
		return false, &testErr{fmt.Sprintf("%s: unary operator expected", a[0])}
	case 3:
		if isBinaryTest(a[1]) {
			return t.binary(a[0], a[1], a[2])
		}
		if a[0] == "!" {
			t2 := &tester{c: t.c, args: a[1:]}
			r, err := t2.run()
			return !r, err
		}
		if a[0] == "(" && a[2] == ")" {
			return a[1] != "", nil
		}
	case 4:
		if a[0] == "!" {
			t2 := &tester{c: t.c, args: a[1:]}
			r, err := t2.run()
			return !r, err
		}
		if a[0] == "(" && a[3] == ")" {
			t2 := &tester{c: t.c, args: a[1:3]}
			return t2.run()
		}
	}
	r, err := t.or()
	if err != nil {
		return false, err
	}
	if t.pos < len(t.args) {
		return false, &testErr{"too many arguments"}
	}
	return r, nil
}

func (t *tester) peek() (string, bool) {
	if t.pos < len(t.args) {
		return t.args[t.pos], true
	}
	return "", false
}

func (t *tester) or() (bool, error) {
	r, err := t.and()
	if err != nil {
		return false, err
	}
	for {
		if s, ok := t.peek(); !ok || s != "-o" {
			return r, nil
		}
		t.pos++
		if t.pos >= len(t.args) {
			return false, &testErr{"argument expected"}
		}
		r2, err := t.and()
		if err != nil {
			return false, err
		}
		r = r || r2
	}
}

func (t *tester) and() (bool, error) {
	r, err := t.not()
	if err != nil {
		return false, err
	}
	for {
		if s, ok := t.peek(); !ok || s != "-a" {
			return r, nil
		}
		t.pos++
		if t.pos >= len(t.args) {
			return false, &testErr{"argument expected"}
		}
		r2, err := t.not()
		if err != nil {
			return false, err
		}
		r = r && r2
	}
}

func (t *tester) not() (bool, error) {
	neg := false
	for {
		s, ok := t.peek()
		if !ok || s != "!" || t.pos+1 >= len(t.args) {
			break
		}
		neg = !neg
		t.pos++
	}
	r, err := t.primary()
	return r != neg, err
}

func (t *tester) primary() (bool, error) {
	s, ok := t.peek()
	if !ok {
		return false, &testErr{"argument expected"}
	}
	// A binary expression takes precedence ("-n = -n").
	if t.pos+2 < len(t.args) && isBinaryTest(t.args[t.pos+1]) {
		l, op, r := t.args[t.pos], t.args[t.pos+1], t.args[t.pos+2]
		t.pos += 3
		return t.binary(l, op, r)
	}
	if s == "(" {
		t.pos++
		r, err := t.or()
		if err != nil {
			return false, err
		}
		if s, ok := t.peek(); !ok || s != ")" {
			if ok {
				return false, &testErr{fmt.Sprintf("')' expected, found '%s'", s)}
			}
			return false, &testErr{"')' expected"}
		}
		t.pos++
		return r, nil
	}
	if isUnaryTest(s) {
		if t.pos+1 >= len(t.args) {
			// A lone "-n" is a non-empty string.
			t.pos++
			return true, nil
		}
		arg := t.args[t.pos+1]
		t.pos += 2
		return t.unary(s, arg)
	}
	t.pos++
	if t.pos < len(t.args) && !isConnective(t.args[t.pos]) {
		return false, &testErr{"too many arguments"}
	}
	return s != "", nil
}

func isConnective(s string) bool { return s == "-a" || s == "-o" || s == ")" }

func isUnaryTest(s string) bool {
	return len(s) == 2 && s[0] == '-' && strings.IndexByte("bcdefgGhkLnOprsStuwxz", s[1]) >= 0
}

func isBinaryTest(s string) bool {
	switch s {
	case "=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef":
		return true
	}
	return false
}

func testInt(s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, &testErr{fmt.Sprintf("%s: integer expression expected", s)}
		}
		return 0, &testErr{fmt.Sprintf("%s: integer expression expected", s)}
	}
	return v, nil
}

func (t *tester) binary(l, op, r string) (bool, error) {
	switch op {
	case "=", "==":
		return l == r, nil
	case "!=":
		return l != r, nil
	case "<":
		return l < r, nil
	case ">":
		return l > r, nil
	case "-nt", "-ot", "-ef":
		a, errA := Stat(t.c.abs(l))
		b, errB := Stat(t.c.abs(r))
		switch op {
		case "-nt":
			return errA == nil && (errB != nil || a.ModTime().After(b.ModTime())), nil
		case "-ot":
			return errB == nil && (errA != nil || a.ModTime().Before(b.ModTime())), nil
		default:
			if errA != nil || errB != nil {
				return false, nil
			}
			sa, sb := mustStat(t.c.abs(l)), mustStat(t.c.abs(r))
			return sa != nil && sb != nil && os.SameFile(sa, sb), nil
		}
	}
	a, err := testInt(l)
	if err != nil {
		return false, err
	}
	b, err := testInt(r)
	if err != nil {
		return false, err
	}
	switch op {
	case "-eq":
		return a == b, nil
	case "-ne":
		return a != b, nil
	case "-lt":
		return a < b, nil
	case "-le":
		return a <= b, nil
	case "-gt":
		return a > b, nil
	}
	return a >= b, nil
}

func (t *tester) unary(op, arg string) (bool, error) {
	switch op {
	case "-n":
		return arg != "", nil
	case "-z":
		return arg == "", nil
	case "-t":
		if _, err := testInt(arg); err != nil {
			return false, err
		}
		// A box has no terminals.
		return false, nil
	}
	if arg == "" {
		return false, nil
	}
	full := t.c.abs(arg)
	if op == "-h" || op == "-L" {
		fi, err := Lstat(full)
		return err == nil && fi.Mode()&fs.ModeSymlink != 0, nil
	}
	fi, err := Stat(full)
	if err != nil {
		return false, nil
	}
	m := fi.Mode()
	switch op {
	case "-e":
		return true, nil
	case "-f":
		return m.IsRegular(), nil
	case "-d":
		return m.IsDir(), nil
	case "-s":
		return fi.Size() > 0, nil
	case "-b":
		return m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0, nil
	case "-c":
		return m&fs.ModeCharDevice != 0, nil
	case "-p":
		return m&fs.ModeNamedPipe != 0, nil
	case "-S":
		return m&fs.ModeSocket != 0, nil
	case "-u":
		return m&fs.ModeSetuid != 0, nil
	case "-g":
		return m&fs.ModeSetgid != 0, nil
	case "-k":
		return m&fs.ModeSticky != 0, nil
	case "-r", "-w":
		// Box processes run as root: existing files are readable and
		// writable.
		return true, nil
	case "-x":
		return m.IsDir() || m.Perm()&0o111 != 0, nil
	case "-O":
		return sysInfo(fi).uid == 0, nil
	case "-G":
		return sysInfo(fi).gid == 0, nil
	}
	return false, nil
}
