package applets

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Line-oriented column tools: nl, paste, comm, fold.

func init() {
	register("nl", nl)
	register("paste", paste)
	register("comm", comm)
	register("fold", fold)
}

func nl(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "b:n:w:s:v:i:", long: map[string]string{
		"body-numbering=": "b", "number-format=": "n", "number-width=": "w",
		"number-separator=": "s", "starting-line-number=": "v", "line-increment=": "i"}}, args[1:])
	if !ok {
		return code
	}
	style := o.str("b", "t")
	format := o.str("n", "rn")
	sep := o.str("s", "\t")
	width, err1 := strconv.Atoi(o.str("w", "6"))
	num, err2 := strconv.ParseInt(o.str("v", "1"), 10, 64)
	incr, err3 := strconv.ParseInt(o.str("i", "1"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || width < 1 {
		return c.fail(1, "invalid numbering option")
	}
	var re interface{ Match([]byte) bool }
	if strings.HasPrefix(style, "p") {
		r, err := compileRE(style[1:], reFlags{})
		if err != nil {
			return c.fail(1, "%s", err)
		}
		re = r
	} else if style != "a" && style != "t" && style != "n" {
		return c.fail(1, "invalid body numbering style: '%s'", style)
	}
	c.eachInput(files, func(name string, r io.Reader) error {
		lr := newLineReader(r)
		for !c.broken() {
			line, nlEnd, err := lr.next()
			if err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			number := false
			switch {
			case style == "a":
				number = true
			case style == "t":
				number = len(line) > 0
			case re != nil:
				number = re.Match(line)
			}
			if number {
				s := strconv.FormatInt(num, 10)
				switch format {
				case "ln":
					s = fmt.Sprintf("%-*s", width, s)
				case "rz":
					s = fmt.Sprintf("%0*d", width, num)
				default:
					s = fmt.Sprintf("%*s", width, s)
				}
				c.out.WriteString(s + sep)
				num += incr
			} else {
				c.out.WriteString(strings.Repeat(" ", width+len(sep)))
			}
			c.out.Write(line)
			if nlEnd {
				c.out.WriteByte('\n')
			}
		}
		return nil
	})
	return c.done()
}

// delimList expands a paste -d list: \n \t \\ \0 (empty).
func delimList(s string) []string {
	var r []string
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				r = append(r, "\n")
			case 't':
				r = append(r, "\t")
			case '0':
				r = append(r, "")
			default:
				r = append(r, string(s[i]))
			}
			continue
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		r = append(r, s[i:i+n])
		i += n - 1
	}
	if len(r) == 0 {
		r = []string{""}
	}
	return r
}

func paste(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "d:sz", long: map[string]string{"delimiters=": "d", "serial": "s", "zero-terminated": "z"}}, args[1:])
	if !ok {
		return code
	}
	delims := delimList(o.str("d", "\t"))
	if len(files) == 0 {
		files = []string{"-"}
	}
	// "-" given several times shares stdin, one line each.
	var stdinLR *lineReader
	readers := make([]*lineReader, len(files))
	for i, name := range files {
		if name == "-" {
			if stdinLR == nil {
				stdinLR = newLineReader(c.stdin())
			}
			readers[i] = stdinLR
			continue
		}
		rc, err := c.open(name)
		if err != nil {
			return c.fail(1, "%s: %s", name, errText(err))
		}
		defer rc.Close()
		readers[i] = newLineReader(rc)
	}
	if o.has("s") {
		for _, lr := range readers {
			first := true
			k := 0
			for !c.broken() {
				line, _, err := lr.next()
				if err != nil {
					break
				}
				if !first {
					c.out.WriteString(delims[k%len(delims)])
					k++
				}
				first = false
				c.out.Write(line)
			}
			c.out.WriteByte('\n')
		}
		return c.done()
	}
	done := make([]bool, len(readers))
	for !c.broken() {
		var b bytes.Buffer
		any := false
		for i, lr := range readers {
			if i > 0 {
				b.WriteString(delims[(i-1)%len(delims)])
			}
			if done[i] {
				continue
			}
			line, _, err := lr.next()
			if err != nil {
				done[i] = true
				continue
			}
			any = true
			b.Write(line)
		}
		if !any {
			break
		}
		b.WriteByte('\n')
		c.out.Write(b.Bytes())
	}
	return c.done()
}

func comm(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "123", long: map[string]string{"output-delimiter=": "d",
		"check-order": "check-order", "nocheck-order": "nocheck-order"}}, args[1:])
	if !ok {
		return code
	}
	if len(files) != 2 {
		if len(files) < 2 {
			return c.fail(1, "missing operand")
		}
		return c.fail(1, "extra operand '%s'", files[2])
	}
	var lrs [2]*lineReader
	for i, name := range files {
		rc, err := c.open(name)
		if err != nil {
			return c.fail(1, "%s: %s", name, errText(err))
		}
		defer rc.Close()
		lrs[i] = newLineReader(rc)
	}
	sep := o.str("d", "\t")
	show := [3]bool{!o.has("1"), !o.has("2"), !o.has("3")}
	emit := func(col int, line []byte) {
		if !show[col] {
			return
		}
		for i := 0; i < col; i++ {
			if show[i] {
				c.out.WriteString(sep)
			}
		}
		c.out.Write(line)
		c.out.WriteByte('\n')
	}
	read := func(i int) ([]byte, bool) {
		l, _, err := lrs[i].next()
		if err != nil {
			return nil, false
		}
		return append([]byte(nil), l...), true
	}
	a, okA := read(0)
	b, okB := read(1)
	for (okA || okB) && !c.broken() {
		switch {
		case !okB || (okA && bytes.Compare(a, b) < 0):
			emit(0, a)
			a, okA = read(0)
		case !okA || bytes.Compare(a, b) > 0:
			emit(1, b)
			b, okB = read(1)
		default:
			emit(2, a)
			a, okA = read(0)
			b, okB = read(1)
		}
	}
	return c.done()
}

func fold(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	args = obsoleteWidth(args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "bsw:", long: map[string]string{"bytes": "b", "spaces": "s", "width=": "w"}}, args[1:])
	if !ok {
		return code
	}
	width, err := strconv.Atoi(o.str("w", "80"))
	if err != nil || width < 1 {
		return c.fail(1, "invalid number of columns: '%s'", o.str("w", ""))
	}
	c.eachInput(files, func(name string, r io.Reader) error {
		lr := newLineReader(r)
		for !c.broken() {
			line, nlEnd, err := lr.next()
			if err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			parts := foldLine(line, width, o.has("s"), o.has("b"))
			for i, part := range parts {
				c.out.Write(part)
				if i < len(parts)-1 || nlEnd {
					c.out.WriteByte('\n')
				}
			}
		}
		return nil
	})
	return c.done()
}

// obsoleteWidth turns fold -20 into fold -w 20.
func obsoleteWidth(args []string) []string {
	if len(args) > 1 && len(args[1]) > 1 && args[1][0] == '-' {
		if _, err := strconv.Atoi(args[1][1:]); err == nil {
			return append([]string{args[0], "-w", args[1][1:]}, args[2:]...)
		}
	}
	return args
}

// foldLine breaks line into pieces of at most width columns.
func foldLine(line []byte, width int, spaces, bytesMode bool) [][]byte {
	var parts [][]byte
	col := 0
	start := 0
	lastSpace := -1
	for i := 0; i < len(line); {
		n := 1
		w := 1
		if !bytesMode {
			_, n = utf8.DecodeRune(line[i:])
			switch line[i] {
			case '\t':
				w = 8 - col%8
			case '\b':
				w = -1
				if col == 0 {
					w = 0
				}
			case '\r':
				w = -col
			}
		}
		if col+w > width && i > start {
			if spaces && lastSpace >= start {
				parts = append(parts, line[start:lastSpace+1])
				start = lastSpace + 1
			} else {
				parts = append(parts, line[start:i])
				start = i
			}
			lastSpace = -1
			// Recompute the column of what is carried over.
			col = 0
			for j := start; j < i; j++ {
				if line[j] == '\t' && !bytesMode {
					col += 8 - col%8
				} else {
					col++
				}
			}
			continue
		}
		if line[i] == ' ' {
			lastSpace = i
		}
		col += w
		i += n
	}
	parts = append(parts, line[start:])
	// The last piece gets the line's own newline (or none).
	return parts
}
