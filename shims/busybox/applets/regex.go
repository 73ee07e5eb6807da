package applets

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// POSIX regular expressions (grep, sed, expr) on top of Go's RE2 syntax.
// The translation keeps GNU's extensions (\+ \? \| in basic expressions,
// \< \> \b \w \s, \` \') and POSIX leftmost-longest matching. RE2 has no
// backreferences inside a pattern: those are an error.

type reFlags struct {
	ere   bool // extended syntax (grep -E, sed -E)
	icase bool
	// dotNL lets . and [^x] match a newline, as POSIX does for a sed
	// pattern space holding several lines.
	dotNL bool
	// multiline makes ^ and $ match at embedded newlines (sed M flag).
	multiline bool
}

// compileRE compiles a POSIX expression.
func compileRE(pat string, f reFlags) (*regexp.Regexp, error) {
	s, err := translateRE(pat, f.ere)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if f.icase {
		prefix += "i"
	}
	if f.dotNL {
		prefix += "s"
	}
	if f.multiline {
		prefix += "m"
	}
	if prefix != "" {
		s = "(?" + prefix + ")" + s
	}
	re, err := regexp.Compile(s)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s", reErrText(se))
		}
		return nil, err
	}
	re.Longest()
	return re, nil
}

func reErrText(e *syntax.Error) string {
	switch e.Code {
	case "missing closing )":
		return "Unmatched ( or \\("
	case "unexpected )":
		return "Unmatched ) or \\)"
	case "missing closing ]":
		return "Unmatched [, [^, [:, [., or [="
	case "invalid character class range":
		return "Invalid range end"
	case "invalid repeat count":
		return "Invalid content of \\{\\}"
	}
	return string(e.Code)
}

// translateRE converts a POSIX basic (or extended) regular expression to
// Go syntax.
func translateRE(pat string, ere bool) (string, error) {
	var b strings.Builder
	atStart := true // where * is literal and ^ is an anchor (BRE)
	lastQuant := false
	depth := 0
	quant := func(q string) {
		if lastQuant {
			// a** or a+* mean the same as one operator in POSIX; RE2
			// rejects nested repetition.
			return
		}
		b.WriteString(q)
		lastQuant = true
	}
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		wasStart := atStart
		atStart = false
		isQuant := false
		switch {
		case c == '\\':
			if i+1 >= len(pat) {
				return "", errors.New("Trailing backslash")
			}
			i++
			c = pat[i]
			switch {
			case !ere && c == '(':
				b.WriteByte('(')
				depth++
				atStart = true
			case !ere && c == ')':
				b.WriteByte(')')
				depth--
			case !ere && c == '|':
				b.WriteByte('|')
				atStart = true
			case !ere && c == '{':
				end := strings.Index(pat[i:], "\\}")
				if end < 0 {
					return "", errors.New("Unmatched \\{")
				}
				iv, ok := interval(pat[i+1 : i+end])
				if !ok {
					return "", errors.New("Invalid content of \\{\\}")
				}
				if wasStart {
					b.WriteString(regexp.QuoteMeta("{" + pat[i+1:i+end] + "}"))
				} else {
					quant(iv)
					isQuant = true
				}
				i += end + 1
			case !ere && (c == '+' || c == '?'):
				if wasStart {
					b.WriteString("\\" + string(c))
				} else {
					quant(string(c))
					isQuant = true
				}
			case c >= '1' && c <= '9':
				return "", errors.New("back-references in patterns are not supported")
			case c == '<' || c == '>':
				b.WriteString(`\b`)
			case strings.IndexByte("bBwWsS", c) >= 0:
				b.WriteString(`\` + string(c))
			case c == '`':
				b.WriteString(`\A`)
			case c == '\'':
				b.WriteString(`\z`)
			case c == 'n':
				b.WriteString(`\n`)
			case c == 't':
				b.WriteString(`\t`)
			default:
				r, n := utf8.DecodeRuneInString(pat[i:])
				b.WriteString(regexp.QuoteMeta(string(r)))
				i += n - 1
			}
		case c == '[':
			n, cls, err := bracket(pat[i:])
			if err != nil {
				return "", err
			}
			b.WriteString(cls)
			i += n - 1
		case c == '*':
			if wasStart {
				b.WriteString(`\*`)
			} else {
				quant("*")
				isQuant = true
			}
		case c == '^':
			if ere || wasStart {
				b.WriteByte('^')
				atStart = true
			} else {
				b.WriteString(`\^`)
			}
		case c == '$':
			rest := pat[i+1:]
			if ere || rest == "" || strings.HasPrefix(rest, `\)`) || strings.HasPrefix(rest, `\|`) {
				b.WriteByte('$')
			} else {
				b.WriteString(`\$`)
			}
		case c == '.':
			b.WriteByte('.')
		case ere && c == '(':
			b.WriteByte('(')
			depth++
			atStart = true
		case ere && c == ')':
			if depth == 0 {
				b.WriteString(`\)`)
			} else {
				b.WriteByte(')')
				depth--
			}
		case ere && c == '|':
			b.WriteByte('|')
			atStart = true
		case ere && (c == '+' || c == '?'):
			if wasStart {
				b.WriteString(`\` + string(c))
			} else {
				quant(string(c))
				isQuant = true
			}
		case ere && c == '{':
			end := strings.IndexByte(pat[i:], '}')
			iv, ok := "", false
			if end > 0 {
				iv, ok = interval(pat[i+1 : i+end])
			}
			if !ok || wasStart {
				b.WriteString(`\{`)
			} else {
				quant(iv)
				isQuant = true
				i += end
			}
		default:
			r, n := utf8.DecodeRuneInString(pat[i:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += n - 1
		}
		if !isQuant {
			lastQuant = false
		}
	}
	return b.String(), nil
}

// interval checks the inside of a {m,n} interval and returns it in Go
// syntax.
func interval(s string) (string, bool) {
	lo, hi, comma := strings.Cut(s, ",")
	digits := func(x string) bool {
		for _, c := range x {
			if c < '0' || c > '9' {
				return false
			}
		}
		return len(x) <= 4
	}
	if !digits(lo) || !digits(hi) || (lo == "" && !comma) {
		return "", false
	}
	if lo == "" {
		lo = "0"
	}
	if comma {
		return "{" + lo + "," + hi + "}", true
	}
	return "{" + lo + "}", true
}

// bracket translates the bracket expression at the start of s and returns
// how many bytes it used.
func bracket(s string) (int, string, error) {
	var b strings.Builder
	b.WriteByte('[')
	i := 1
	if i < len(s) && s[i] == '^' {
		b.WriteByte('^')
		i++
	}
	first := true
	for {
		if i >= len(s) {
			return 0, "", errors.New("Unmatched [, [^, [:, [., or [=")
		}
		if s[i] == ']' && !first {
			b.WriteByte(']')
			return i + 1, b.String(), nil
		}
		first = false
		if s[i] == '[' && i+1 < len(s) && (s[i+1] == ':' || s[i+1] == '=' || s[i+1] == '.') {
			kind := s[i+1]
			end := strings.Index(s[i+2:], string(kind)+"]")
			if end < 0 {
				return 0, "", errors.New("Unmatched [, [^, [:, [., or [=")
			}
			name := s[i+2 : i+2+end]
			i += 2 + end + 2
			if kind == ':' {
				if !validClass(name) {
					return 0, "", errors.New("Invalid character class name")
				}
				b.WriteString("[:" + name + ":]")
				continue
			}
			// [=c=] and [.c.]: the character itself.
			b.WriteString(classChar(name))
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		b.WriteString(classChar(string(r)))
		// A range a-z (but a trailing '-' is literal).
		if i+1 < len(s) && s[i] == '-' && s[i+1] != ']' {
			r2, n2 := utf8.DecodeRuneInString(s[i+1:])
			if r2 < r {
				return 0, "", errors.New("Invalid range end")
			}
			b.WriteByte('-')
			b.WriteString(classChar(string(r2)))
			i += 1 + n2
		}
	}
}

func classChar(s string) string {
	if len(s) == 1 && strings.IndexByte(`\[]^-`, s[0]) >= 0 {
		return `\` + s
	}
	return s
}

func validClass(name string) bool {
	switch name {
	case "alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct", "print", "graph", "cntrl", "xdigit":
		return true
	}
	return false
}
