package applets

import (
	"context"
	"strconv"
	"strings"
)

func init() {
	register("echo", echo)
}

// echo follows GNU coreutils: -n, -e, -E; escapes only with -e.
func echo(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	newline, escapes := true, false
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' || strings.Trim(a[1:], "neE") != "" {
			break
		}
		for _, f := range a[1:] {
			switch f {
			case 'n':
				newline = false
			case 'e':
				escapes = true
			case 'E':
				escapes = false
			}
		}
	}
	for j, a := range args[i:] {
		if j > 0 {
			c.out.WriteByte(' ')
		}
		if escapes {
			s, stop := unescape(a, escEcho)
			c.out.WriteString(s)
			if stop {
				return c.finish(0)
			}
		} else {
			c.out.WriteString(a)
		}
	}
	if newline {
		c.out.WriteByte('\n')
	}
	return c.finish(0)
}

// Kinds of backslash escapes.
const (
	escFormat = iota // a printf format: \NNN octal, \uHHHH
	escB             // printf %b: \0NNN or \NNN octal
	escEcho          // echo -e: \0NNN octal, no \u, \" stays
)

// unescape interprets backslash escapes of the given kind. It reports
// whether \c asked to stop all output.
func unescape(s string, kind int) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		n, stop := escape(&b, s[i:], kind)
		if stop {
			return b.String(), true
		}
		i += n - 1
	}
	return b.String(), false
}

// escape writes the meaning of the escape sequence at the start of s (after
// the backslash) and returns how many bytes it used.
func escape(b *strings.Builder, s string, kind int) (int, bool) {
	c := s[0]
	if kind == escEcho && (c == '"' || c == 'u' || c == 'U' || c >= '1' && c <= '7') {
		b.WriteByte('\\')
		b.WriteByte(c)
		return 1, false
	}
	switch c {
	case '\\':
		b.WriteByte('\\')
	case 'a':
		b.WriteByte('\a')
	case 'b':
		b.WriteByte('\b')
	case 'c':
		return 1, true
	case 'e', 'E':
		b.WriteByte(0x1b)
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'v':
		b.WriteByte('\v')
	case '"':
		b.WriteByte('"')
	case 'x':
		n := 1
		for n < len(s) && n < 3 && isHex(s[n]) {
			n++
		}
		if n == 1 {
			b.WriteString(`\x`)
			return 1, false
		}
		v, _ := strconv.ParseUint(s[1:n], 16, 8)
		b.WriteByte(byte(v))
		return n, false
	case 'u', 'U':
		max := 5
		if c == 'U' {
			max = 9
		}
		n := 1
		for n < len(s) && n < max && isHex(s[n]) {
			n++
		}
		if n == 1 {
			b.WriteString(`\` + string(c))
			return 1, false
		}
		v, _ := strconv.ParseUint(s[1:n], 16, 32)
		b.WriteRune(rune(v))
		return n, false
	case '0', '1', '2', '3', '4', '5', '6', '7':
		start := 0
		if kind != escFormat && c == '0' {
			start = 1
		}
		n := start
		for n < len(s) && n < start+3 && s[n] >= '0' && s[n] <= '7' {
			n++
		}
		v, _ := strconv.ParseUint("0"+s[start:n], 8, 16)
		b.WriteByte(byte(v))
		return n, false
	default:
		b.WriteByte('\\')
		b.WriteByte(c)
	}
	return 1, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
