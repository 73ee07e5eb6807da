package applets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func init() {
	register("xargs", xargs)
}

var errUnmatchedQuote = errors.New("unmatched quote")

// xargsReader yields the items of xargs' input.
type xargsReader struct {
	r     *bufio.Reader
	delim int  // -1: blanks and quotes; else the delimiter byte
	lines bool // -I / -L: items are lines
	eof   string
	done  bool
}

// next returns the next item; for -L it also says whether the item ends
// a logical line.
func (x *xargsReader) next() (string, bool, error) {
	if x.done {
		return "", false, io.EOF
	}
	if x.delim >= 0 {
		s, err := x.r.ReadString(byte(x.delim))
		if err != nil {
			if s == "" {
				return "", false, io.EOF
			}
			return s, true, nil
		}
		return s[:len(s)-1], true, nil
	}
	if x.lines {
		for {
			line, err := x.r.ReadString('\n')
			if line == "" && err != nil {
				return "", false, io.EOF
			}
			line = strings.TrimRight(line, "\n")
			t := strings.TrimLeft(line, " \t")
			if t == "" {
				if err != nil {
					return "", false, io.EOF
				}
				continue
			}
			if x.eof != "" && t == x.eof {
				x.done = true
				return "", false, io.EOF
			}
			return t, true, nil
		}
	}
	// Blank-separated words with quotes and backslashes.
	var b strings.Builder
	inWord := false
	var quote byte
	for {
		ch, err := x.r.ReadByte()
		if err != nil {
			if quote != 0 {
				return "", false, errUnmatchedQuote
			}
			if inWord {
				return x.word(b.String())
			}
			return "", false, io.EOF
		}
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else if ch == '\n' {
				return "", false, errUnmatchedQuote
			} else {
				b.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote = ch
			inWord = true
		case ch == '\\':
			next, err := x.r.ReadByte()
			if err == nil {
				b.WriteByte(next)
			}
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				// For -L, a line ends with a word followed by a newline
				// (a trailing blank continues it).
				s, _, err := x.word(b.String())
				return s, ch == '\n', err
			}
		default:
			b.WriteByte(ch)
			inWord = true
		}
	}
}

func (x *xargsReader) word(s string) (string, bool, error) {
	if x.eof != "" && s == x.eof {
		x.done = true
		return "", false, io.EOF
	}
	return s, true, nil
}

func xargs(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, command, code, ok := c.parseOpts(&optSpec{short: "0d:n:L:l::I:i::rtps:xE:e::a:P:o", posix: true, long: map[string]string{
		"null": "0", "delimiter=": "d", "max-args=": "n", "max-lines?": "L", "replace?": "i",
		"no-run-if-empty": "r", "verbose": "t", "interactive": "p", "max-chars=": "s", "exit": "x",
		"eof?": "e", "arg-file=": "a", "max-procs=": "P", "open-tty": "o", "process-slot-var=": "psv"}}, args[1:])
	if !ok {
		return code
	}
	if len(command) == 0 {
		command = []string{"echo"}
	}
	in := c.stdin()
	if f, ok := o.val("a"); ok {
		file, err := os.Open(c.abs(f))
		if err != nil {
			return c.fail(1, "%s: %s", f, errText(err))
		}
		defer file.Close()
		in = file
	}
	xr := &xargsReader{r: bufio.NewReaderSize(in, 64<<10), delim: -1}
	switch {
	case o.has("0"):
		xr.delim = 0
	case o.has("d"):
		d, _ := o.val("d")
		un, _ := unescape(d, escFormat)
		if len(un) != 1 {
			return c.fail(1, "invalid input delimiter specification %s: the delimiter must be either a single character or an escape sequence starting with \\.", d)
		}
		xr.delim = int(un[0])
	}
	if e, ok := o.val("E"); ok {
		xr.eof = e
	} else if e, ok := o.val("e"); ok {
		xr.eof = e
	}
	maxArgs, maxLines := 0, 0
	replace := ""
	num := func(key string, v string) (int, bool) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			c.warnf("invalid number \"%s\" for -%s option", v, key)
			return 0, false
		}
		return n, true
	}
	for _, x := range o.list {
		switch x.key {
		case "n":
			n, ok := num("n", x.arg)
			if !ok {
				return c.finish(1)
			}
			maxArgs, maxLines, replace = n, 0, ""
		case "L", "l":
			v := x.arg
			if v == "" {
				v = "1"
			}
			n, ok := num(x.key, v)
			if !ok {
				return c.finish(1)
			}
			maxLines, maxArgs, replace = n, 0, ""
		case "I", "i":
			replace = x.arg
			if replace == "" {
				replace = "{}"
			}
			maxLines, maxArgs = 1, 0
		}
	}
	maxChars := 128 << 10
	if v, ok := o.val("s"); ok {
		n, ok := num("s", v)
		if !ok {
			return c.finish(1)
		}
		maxChars = n
	}
	if replace != "" {
		xr.lines = true
	}
	base := 0
	for _, a := range command {
		base += len(a) + 1
	}
	status := 0
	ran := false
	run := func(items []string) bool {
		var argv []string
		if replace != "" {
			item := strings.Join(items, " ")
			for _, a := range command {
				argv = append(argv, strings.ReplaceAll(a, replace, item))
			}
		} else {
			argv = append(append([]string(nil), command...), items...)
		}
		ran = true
		if o.has("t") {
			c.out.Flush()
			fmt.Fprintln(c.stderr(), strings.Join(argv, " "))
		}
		sub := c.subEnv()
		sub.Stdin = eofReader{}
		st := c.exec(sub, argv)
		switch {
		case st == 255:
			c.warnf("%s: exited with status 255; aborting", argv[0])
			status = 124
			return false
		case st == 126 || st == 127:
			status = st
			return false
		case st > 128:
			status = 125
			return false
		case st != 0:
			status = 123
		}
		return c.ctx.Err() == nil
	}
	var items []string
	size, lines := base, 0
	for {
		item, endLine, err := xr.next()
		if err == errUnmatchedQuote {
			kind := "single"
			c.warnf("unmatched %s quote; by default quotes are special to xargs unless you use the -0 option", kind)
			if len(items) > 0 {
				run(items)
			}
			return c.finish(1)
		}
		if err != nil {
			break
		}
		if replace == "" && len(items) > 0 && size+len(item)+1 > maxChars {
			if !run(items) {
				return c.finish(status)
			}
			items, size, lines = nil, base, 0
		}
		items = append(items, item)
		size += len(item) + 1
		if endLine || xr.lines || xr.delim >= 0 {
			lines++
		}
		if (maxArgs > 0 && len(items) >= maxArgs) || (maxLines > 0 && lines >= maxLines && endLine) {
			if !run(items) {
				return c.finish(status)
			}
			items, size, lines = nil, base, 0
		}
	}
	if len(items) > 0 || (!ran && !o.has("r") && replace == "") {
		run(items)
	}
	return c.finish(status)
}
