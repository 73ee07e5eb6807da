package applets

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

func init() {
	register("cat", cat)
	register("tac", tac)
	register("rev", rev)
	register("tee", tee)
}

// lineReader reads lines, keeping whether each ended in a newline.
type lineReader struct {
	r   *bufio.Reader
	sep byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), sep: '\n'}
}

// next returns the next line without its separator, whether it had one,
// and io.EOF after the last line.
func (l *lineReader) next() ([]byte, bool, error) {
	line, err := l.r.ReadBytes(l.sep)
	if len(line) > 0 && line[len(line)-1] == l.sep {
		return line[:len(line)-1], true, nil
	}
	if err == nil {
		err = io.EOF
	}
	if len(line) > 0 && err == io.EOF {
		return line, false, nil
	}
	return nil, false, err
}

func cat(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "nbsEATvetu", long: map[string]string{
		"number": "n", "number-nonblank": "b", "squeeze-blank": "s", "show-ends": "E",
		"show-all": "A", "show-tabs": "T", "show-nonprinting": "v"}}, args[1:])
	if !ok {
		return code
	}
	number, nonblank, squeeze := o.has("n"), o.has("b"), o.has("s")
	ends := o.has("E") || o.has("A") || o.has("e")
	tabs := o.has("T") || o.has("A") || o.has("t")
	nonprint := o.has("v") || o.has("A") || o.has("e") || o.has("t")
	plain := !number && !nonblank && !squeeze && !ends && !tabs && !nonprint
	n := 0
	blankRun := 0
	c.eachInput(files, func(name string, r io.Reader) error {
		if plain {
			_, err := io.Copy(c.out, contextReader{c.ctx, r})
			if c.outw.err != nil {
				return nil
			}
			return err
		}
		lr := newLineReader(r)
		for !c.broken() {
			line, nl, err := lr.next()
			if err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			if len(line) == 0 && nl {
				blankRun++
				if squeeze && blankRun > 1 {
					continue
				}
			} else {
				blankRun = 0
			}
			if (number && !nonblank) || (nonblank && len(line) > 0) {
				n++
				fmt.Fprintf(c.out, "%6d\t", n)
			}
			if tabs || nonprint {
				line = showChars(line, tabs, nonprint)
			}
			c.out.Write(line)
			if nl {
				if ends {
					c.out.WriteByte('$')
				}
				c.out.WriteByte('\n')
			}
		}
		return nil
	})
	return c.done()
}

// showChars is cat -T / -v notation: ^I, ^X, M-x.
func showChars(line []byte, tabs, nonprint bool) []byte {
	var b bytes.Buffer
	for _, ch := range line {
		switch {
		case ch == '\t':
			if tabs {
				b.WriteString("^I")
			} else {
				b.WriteByte(ch)
			}
		case !nonprint:
			b.WriteByte(ch)
		case ch >= 128:
			b.WriteString("M-")
			ch -= 128
			fallthrough
		default:
			switch {
			case ch < 32:
				b.WriteByte('^')
				b.WriteByte(ch + 64)
			case ch == 127:
				b.WriteString("^?")
			default:
				b.WriteByte(ch)
			}
		}
	}
	return b.Bytes()
}

// contextReader stops reading once ctx is done (for cat of an endless
// stdin).
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (r contextReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func tac(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "s:", long: map[string]string{"separator=": "s"}}, args[1:])
	if !ok {
		return code
	}
	sep := o.str("s", "\n")
	if sep == "" {
		sep = "\x00"
	}
	c.eachInput(files, func(name string, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		s := string(data)
		parts := strings.SplitAfter(s, sep)
		if parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		for i := len(parts) - 1; i >= 0; i-- {
			c.out.WriteString(parts[i])
		}
		return nil
	})
	return c.done()
}

func rev(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	_, files, code, ok := c.parseOpts(&optSpec{}, args[1:])
	if !ok {
		return code
	}
	c.eachInput(files, func(name string, r io.Reader) error {
		lr := newLineReader(r)
		for !c.broken() {
			line, nl, err := lr.next()
			if err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			rs := make([]byte, 0, len(line))
			for i := len(line); i > 0; {
				_, n := utf8.DecodeLastRune(line[:i])
				rs = append(rs, line[i-n:i]...)
				i -= n
			}
			c.out.Write(rs)
			if nl {
				c.out.WriteByte('\n')
			}
		}
		return nil
	})
	return c.done()
}

func tee(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "aip", long: map[string]string{"append": "a", "ignore-interrupts": "i"}}, args[1:])
	if !ok {
		return code
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if o.has("a") {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	type dest struct {
		name string
		w    io.Writer
		f    *os.File
	}
	var dests []*dest
	for _, name := range files {
		if name == "-" {
			dests = append(dests, &dest{name: name, w: c.env.Stdout})
			continue
		}
		f, err := os.OpenFile(c.abs(name), flag, 0o666)
		if err != nil {
			c.errorf("%s: %s", name, errText(err))
			continue
		}
		dests = append(dests, &dest{name: name, w: f, f: f})
	}
	buf := make([]byte, 32<<10)
	in := c.stdin()
	stdoutOK := true
	for c.ctx.Err() == nil {
		n, err := in.Read(buf)
		if n > 0 {
			if stdoutOK {
				if _, werr := c.env.Stdout.Write(buf[:n]); werr != nil {
					stdoutOK = false
					if !isBrokenPipe(werr) {
						c.errorf("standard output: %s", errText(werr))
					} else {
						c.status = 1
					}
				}
			}
			for _, d := range dests {
				if d.w == nil {
					continue
				}
				if _, werr := d.w.Write(buf[:n]); werr != nil {
					c.errorf("%s: %s", d.name, errText(werr))
					d.w = nil
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				c.errorf("read error: %s", errText(err))
			}
			break
		}
	}
	for _, d := range dests {
		if d.f != nil {
			if err := d.f.Close(); err != nil {
				c.errorf("%s: %s", d.name, errText(err))
			}
		}
	}
	return c.status
}
