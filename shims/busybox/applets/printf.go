package applets

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

func init() {
	register("printf", printf)
}

// printf follows GNU coreutils printf(1): the format is reused while
// arguments remain; missing arguments are empty strings or zero.
func printf(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	args = args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return c.fail(1, "missing operand")
	}
	p := &printfState{c: c, format: args[0], args: args[1:]}
	for {
		used := p.pos
		if stop := p.once(); stop {
			break
		}
		if p.pos >= len(p.args) {
			break
		}
		if p.pos == used {
			c.warnf("warning: ignoring excess arguments, starting with '%s'", p.args[p.pos])
			break
		}
	}
	return c.done()
}

type printfState struct {
	c      *cmd
	format string
	args   []string
	pos    int
}

func (p *printfState) next() (string, bool) {
	if p.pos >= len(p.args) {
		return "", false
	}
	p.pos++
	return p.args[p.pos-1], true
}

// once prints the format once; it reports whether output must stop (\c
// or a bad conversion).
func (p *printfState) once() bool {
	f := p.format
	out := p.c.out
	for i := 0; i < len(f); i++ {
		ch := f[i]
		switch {
		case ch == '\\':
			if i+1 >= len(f) {
				out.WriteByte('\\')
				continue
			}
			var b strings.Builder
			n, stop := escape(&b, f[i+1:], escFormat)
			out.WriteString(b.String())
			if stop {
				return true
			}
			i += n
		case ch == '%':
			n, stop := p.conversion(f[i:])
			if stop {
				return true
			}
			i += n - 1
		default:
			out.WriteByte(ch)
		}
	}
	return false
}

// conversion handles the directive at the start of f and returns its
// length.
func (p *printfState) conversion(f string) (int, bool) {
	out := p.c.out
	if len(f) >= 2 && f[1] == '%' {
		out.WriteByte('%')
		return 2, false
	}
	i := 1
	flags := ""
	for i < len(f) && strings.IndexByte("-+ #0'", f[i]) >= 0 {
		if f[i] != '\'' {
			flags += string(f[i])
		}
		i++
	}
	width, prec := "", ""
	hasPrec := false
	if i < len(f) && f[i] == '*' {
		a, _ := p.next()
		width = strconv.FormatInt(p.intArg(a), 10)
		if strings.HasPrefix(width, "-") {
			flags += "-"
			width = width[1:]
		}
		i++
	} else {
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			width += string(f[i])
			i++
		}
	}
	if i < len(f) && f[i] == '.' {
		hasPrec = true
		i++
		if i < len(f) && f[i] == '*' {
			a, _ := p.next()
			v := p.intArg(a)
			if v < 0 {
				hasPrec = false
			} else {
				prec = strconv.FormatInt(v, 10)
			}
			i++
		} else {
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				prec += string(f[i])
				i++
			}
			if prec == "" {
				prec = "0"
			}
		}
	}
	hadLen := false
	for i < len(f) && strings.IndexByte("hlLjzt", f[i]) >= 0 {
		i++
		hadLen = true
	}
	if i >= len(f) {
		p.c.warnf("%s: missing conversion specifier", strings.TrimSpace(f))
		p.c.status = 1
		return i, true
	}
	verb := f[i]
	i++
	if hadLen && strings.IndexByte("bcsq", verb) >= 0 {
		verb = '!'
	}
	if n, err := strconv.Atoi(prec); hasPrec && (err != nil || n > maxPrintfWidth) {
		prec = strconv.Itoa(maxPrintfWidth)
	}
	spec := "%" + flags + width
	noWidthSpec := "%" + flags
	if hasPrec {
		spec += "." + prec
		noWidthSpec += "." + prec
	}
	w, err := strconv.Atoi(width)
	if err != nil && width != "" {
		w = maxPrintfWidth * 1000
	}
	left := strings.Contains(flags, "-")
	switch verb {
	case 's':
		a, _ := p.next()
		p.pad(a, w, left, hasPrec, prec)
	case 'b':
		a, _ := p.next()
		s, stop := unescape(a, escB)
		p.pad(s, w, left, hasPrec, prec)
		if stop {
			return i, true
		}
	case 'q':
		a, _ := p.next()
		p.pad(shellQuote(a), w, left, false, "")
	case 'c':
		a, _ := p.next()
		s := "\x00"
		if a != "" {
			_, n := utf8.DecodeRuneInString(a)
			s = a[:n]
		}
		p.pad(s, w, left, false, "")
	case 'd', 'i':
		a, _ := p.next()
		p.number(spec, noWidthSpec, w, left, "d", p.intArg(a))
	case 'u', 'o', 'x', 'X':
		a, _ := p.next()
		v := uint64(p.intArg(a))
		if v == 0 {
			spec = strings.Replace(spec, "#", "", 1)
			noWidthSpec = strings.Replace(noWidthSpec, "#", "", 1)
		}
		goVerb := verb
		if verb == 'u' {
			goVerb = 'd'
		}
		p.number(spec, noWidthSpec, w, left, string(goVerb), v)
	case 'f', 'F', 'e', 'E', 'g', 'G', 'a', 'A':
		a, _ := p.next()
		v := p.floatArg(a)
		if !hasPrec && verb != 'a' && verb != 'A' {
			spec += ".6"
			noWidthSpec += ".6"
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			s := "inf"
			if math.IsNaN(v) {
				s = "nan"
			}
			if math.Signbit(v) {
				s = "-" + s
			} else if strings.Contains(flags, "+") {
				s = "+" + s
			} else if strings.Contains(flags, " ") {
				s = " " + s
			}
			if verb >= 'A' && verb <= 'Z' {
				s = strings.ToUpper(s)
			}
			p.pad(s, w, left, false, "")
			break
		}
		goVerb := verb
		switch verb {
		case 'F':
			goVerb = 'f'
		case 'a':
			goVerb = 'x'
		case 'A':
			goVerb = 'X'
		}
		p.number(spec, noWidthSpec, w, left, string(goVerb), v)
	default:
		p.c.warnf("%s: invalid conversion specification", f[:i])
		p.c.status = 1
		return i, true
	}
	return i, false
}

// maxPrintfWidth is the largest width Go's fmt accepts; wider fields are
// padded here.
const maxPrintfWidth = 1_000_000

// number formats v with a Go spec, padding fields wider than fmt allows
// itself.
func (p *printfState) number(spec, noWidth string, w int, left bool, verb string, v any) {
	if w < maxPrintfWidth {
		p.c.out.WriteString(fmt.Sprintf(spec+verb, v))
		return
	}
	p.pad(fmt.Sprintf(noWidth+verb, v), w, left, false, "")
}

// pad writes s padded to width w counting bytes, as C's printf does.
func (p *printfState) pad(s string, w int, left, hasPrec bool, prec string) {
	if hasPrec {
		if n, err := strconv.Atoi(prec); err == nil && n < len(s) {
			s = s[:n]
		}
	}
	out := p.c.out
	if left {
		out.WriteString(s)
	}
	spaces := strings.Repeat(" ", 4096)
	for n := w - len(s); n > 0 && !p.c.broken(); n -= len(spaces) {
		out.WriteString(spaces[:min(n, len(spaces))])
	}
	if !left {
		out.WriteString(s)
	}
}

// intArg converts a numeric argument like strtoimax: decimal, 0x hex, 0
// octal, 'c for a character code; errors are reported and give 0 (or the
// converted prefix).
func (p *printfState) intArg(a string) int64 {
	if a == "" {
		return 0
	}
	if a[0] == '\'' || a[0] == '"' {
		if len(a) == 1 {
			return 0
		}
		r, _ := utf8.DecodeRuneInString(a[1:])
		return int64(r)
	}
	s := strings.TrimLeft(a, " \t\n")
	v, end, rangeErr := strtoimax(s)
	switch {
	case rangeErr:
		p.c.warnf("'%s': Numerical result out of range", a)
		p.c.status = 1
	case end == 0:
		p.c.warnf("'%s': expected a numeric value", a)
		p.c.status = 1
	case end < len(s):
		p.c.warnf("'%s': value not completely converted", a)
		p.c.status = 1
	}
	return v
}

// strtoimax converts the integer at the start of s (C's strtoimax with
// base 0); it returns the value, the length used and whether it overflowed
// (the value is then clamped).
func strtoimax(s string) (int64, int, bool) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	start := i
	if i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) {
		base = 16
		i += 2
		start = i
	} else if i < len(s) && s[i] == '0' {
		base = 8
	}
	var v uint64
	over := false
	for ; i < len(s); i++ {
		d := uint64(36)
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		}
		if d >= base {
			break
		}
		if v > (math.MaxUint64-d)/base {
			over = true
		}
		v = v*base + d
	}
	if i == start {
		return 0, 0, false
	}
	// Like strtoimax, values beyond the range clamp; like GNU printf,
	// unsigned conversions of large values wrap instead.
	if neg {
		if over || v > 1<<63 {
			return math.MinInt64, i, true
		}
		return -int64(v), i, false
	}
	if over || v > math.MaxInt64 {
		return math.MaxInt64, i, true
	}
	return int64(v), i, false
}

func (p *printfState) floatArg(a string) float64 {
	if a == "" {
		return 0
	}
	if a[0] == '\'' || a[0] == '"' {
		if len(a) == 1 {
			return 0
		}
		r, _ := utf8.DecodeRuneInString(a[1:])
		return float64(r)
	}
	s := strings.TrimLeft(a, " \t\n")
	// The longest prefix that parses.
	n := 0
	for n < len(s) && strings.IndexByte("0123456789abcdefABCDEFxXpP.+-iInNtTyY", s[n]) >= 0 {
		n++
	}
	for end := n; end > 0; end-- {
		v, err := strconv.ParseFloat(s[:end], 64)
		if err == nil || (err.(*strconv.NumError)).Err == strconv.ErrRange {
			if end < len(s) {
				p.c.warnf("'%s': value not completely converted", a)
				p.c.status = 1
			}
			return v
		}
	}
	p.c.warnf("'%s': expected a numeric value", a)
	p.c.status = 1
	return 0
}

// shellQuote quotes s for the shell, like printf %q.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-./=+,:@%^", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	if strings.Contains(s, "'") && !strings.ContainsAny(s, "\"$`\\!") {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
