package applets

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The sed script parser (GNU sed 4 syntax).

type sedAddrKind int

const (
	addrNone sedAddrKind = iota
	addrLine
	addrLast
	addrRegex
	addrStep  // first~step
	addrPlus  // addr1,+N
	addrTilde // addr1,~N
	addrZero  // 0,/re/
)

type sedAddr struct {
	kind sedAddrKind
	n    int64 // line, first, N
	step int64
	re   *regexp.Regexp // nil with addrRegex: the last regex used
}

// sedRepl is one piece of an s replacement.
type sedRepl struct {
	lit   string
	group int  // -1 for a literal
	conv  byte // case conversion starting here: 'U', 'L', 'E', 'u', 'l'
}

type sedCmd struct {
	a1, a2 *sedAddr
	negate bool
	name   byte

	text  string // a i c; label for b t T :; file name for r R w W
	block int    // '{': index of the matching '}'

	re       *regexp.Regexp // s (nil: the last regex used)
	repl     []sedRepl
	global   bool
	nth      int
	print    int
	wfile    string
	exitCode int
	ymap     map[rune]rune

	// range state
	active   bool
	rangeEnd int64
}

type sedParser struct {
	src   string
	pos   int
	ere   bool
	cmds  []*sedCmd
	stack []int
	// segs holds where each -e expression starts in src, for messages.
	segs   []int
	quiet  bool // #n on the first line
	wfiles map[string]bool
}

type sedError struct {
	msg    string
	status int // exit status, 1 unless set
}

func (e *sedError) Error() string { return e.msg }

func (p *sedParser) errorf(format string, a ...any) error {
	expr, start := 1, 0
	for i, s := range p.segs {
		if p.pos >= s {
			expr, start = i+1, s
		}
	}
	return &sedError{msg: fmt.Sprintf("-e expression #%d, char %d: %s", expr, p.pos-start, fmt.Sprintf(format, a...))}
}

func (p *sedParser) eof() bool { return p.pos >= len(p.src) }

func (p *sedParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

func (p *sedParser) skipSpace() {
	for !p.eof() && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// parseSed parses a whole script.
func parseSed(script string, segs []int, ere bool) (*sedParser, error) {
	p := &sedParser{src: script, ere: ere, segs: segs, wfiles: map[string]bool{}}
	if strings.HasPrefix(script, "#n\n") || script == "#n" {
		p.quiet = true
	}
	for {
		// Skip separators.
		for !p.eof() && strings.IndexByte(" \t\n;", p.peek()) >= 0 {
			p.pos++
		}
		if p.eof() {
			break
		}
		if p.peek() == '#' {
			for !p.eof() && p.peek() != '\n' {
				p.pos++
			}
			continue
		}
		if err := p.command(); err != nil {
			return nil, err
		}
	}
	if len(p.stack) > 0 {
		p.pos = 0
		return nil, p.errorf("unmatched `{'")
	}
	// Resolve labels.
	labels := map[string]bool{}
	for _, c := range p.cmds {
		if c.name == ':' {
			if labels[c.text] {
				return nil, &sedError{msg: fmt.Sprintf("-e expression #1, char 0: duplicate label `%s'", c.text)}
			}
			labels[c.text] = true
		}
	}
	for _, c := range p.cmds {
		if (c.name == 'b' || c.name == 't' || c.name == 'T') && c.text != "" && !labels[c.text] {
			// GNU sed exits with its "panic" status here.
			return nil, &sedError{msg: fmt.Sprintf("can't find label for jump to `%s'", c.text), status: 4}
		}
	}
	return p, nil
}

func (p *sedParser) command() error {
	c := &sedCmd{}
	var err error
	if c.a1, err = p.address(); err != nil {
		return err
	}
	if c.a1 != nil {
		p.skipSpace()
		if p.peek() == ',' {
			p.pos++
			p.skipSpace()
			if c.a2, err = p.address2(); err != nil {
				return err
			}
			if c.a2 == nil {
				return p.errorf("unexpected `,'")
			}
		}
		if c.a1.kind == addrZero && (c.a2 == nil || c.a2.kind != addrRegex) {
			return p.errorf("invalid usage of line address 0")
		}
	}
	p.skipSpace()
	for p.peek() == '!' {
		c.negate = true
		p.pos++
		p.skipSpace()
	}
	if p.eof() {
		return p.errorf("missing command")
	}
	c.name = p.src[p.pos]
	p.pos++
	switch c.name {
	case '{':
		p.stack = append(p.stack, len(p.cmds))
		p.cmds = append(p.cmds, c)
		return nil
	case '}':
		if c.a1 != nil {
			return p.errorf("} doesn't want any addresses")
		}
		if len(p.stack) == 0 {
			return p.errorf("unexpected `}'")
		}
		open := p.stack[len(p.stack)-1]
		p.stack = p.stack[:len(p.stack)-1]
		p.cmds[open].block = len(p.cmds)
		p.cmds = append(p.cmds, c)
		return p.endCommand()
	case '=', 'd', 'D', 'g', 'G', 'h', 'H', 'n', 'N', 'p', 'P', 'x', 'z', 'F':
		p.cmds = append(p.cmds, c)
		return p.endCommand()
	case 'q', 'Q', 'l', 'L':
		if (c.name == 'q' || c.name == 'Q') && c.a2 != nil {
			return p.errorf("command only uses one address")
		}
		p.skipSpace()
		start := p.pos
		for !p.eof() && p.peek() >= '0' && p.peek() <= '9' {
			p.pos++
		}
		if p.pos > start {
			c.exitCode, _ = strconv.Atoi(p.src[start:p.pos])
		} else if c.name == 'l' {
			c.exitCode = -1
		}
		p.cmds = append(p.cmds, c)
		return p.endCommand()
	case 'a', 'i', 'c':
		c.text = p.readText()
		p.cmds = append(p.cmds, c)
		return nil
	case ':':
		if c.a1 != nil {
			return p.errorf(": doesn't want any addresses")
		}
		p.skipSpace()
		c.text = p.readLabel()
		if c.text == "" {
			return p.errorf("\":\" lacks a label")
		}
		p.cmds = append(p.cmds, c)
		return nil
	case 'b', 't', 'T':
		p.skipSpace()
		c.text = p.readLabel()
		p.cmds = append(p.cmds, c)
		return nil
	case 'r', 'R', 'w', 'W':
		c.text = p.readFilename()
		if c.text == "" {
			return p.errorf("missing filename in r/R/w/W commands")
		}
		if c.name == 'w' || c.name == 'W' {
			p.wfiles[c.text] = true
		}
		p.cmds = append(p.cmds, c)
		return nil
	case 's':
		if err := p.subst(c); err != nil {
			return err
		}
		p.cmds = append(p.cmds, c)
		return p.endCommand()
	case 'y':
		if err := p.translit(c); err != nil {
			return err
		}
		p.cmds = append(p.cmds, c)
		return p.endCommand()
	case 'e':
		return p.errorf("the e command is not supported in a box")
	}
	p.pos--
	return p.errorf("unknown command: `%c'", c.name)
}

// endCommand checks what may follow a command: spaces, then ; newline } #
// or the end.
func (p *sedParser) endCommand() error {
	p.skipSpace()
	if p.eof() {
		return nil
	}
	switch p.peek() {
	case ';', '\n':
		p.pos++
		return nil
	case '}', '#':
		return nil
	}
	return p.errorf("extra characters after command")
}

func (p *sedParser) number() (int64, bool) {
	start := p.pos
	for !p.eof() && p.peek() >= '0' && p.peek() <= '9' {
		p.pos++
	}
	if p.pos == start {
		return 0, false
	}
	n, err := strconv.ParseInt(p.src[start:p.pos], 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func (p *sedParser) address() (*sedAddr, error) {
	switch ch := p.peek(); {
	case ch >= '0' && ch <= '9':
		n, _ := p.number()
		if p.peek() == '~' {
			p.pos++
			step, _ := p.number()
			return &sedAddr{kind: addrStep, n: n, step: step}, nil
		}
		if n == 0 {
			return &sedAddr{kind: addrZero}, nil
		}
		return &sedAddr{kind: addrLine, n: n}, nil
	case ch == '$':
		p.pos++
		return &sedAddr{kind: addrLast}, nil
	case ch == '/' || ch == '\\':
		if ch == '\\' {
			p.pos++
			if p.eof() || p.peek() == '\n' {
				return nil, p.errorf("unexpected end of expression")
			}
		}
		delim := p.src[p.pos]
		p.pos++
		pat, ok := p.delimited(delim, true)
		if !ok {
			return nil, p.errorf("unterminated address regex")
		}
		f := reFlags{ere: p.ere, dotNL: true}
		for !p.eof() {
			if p.peek() == 'I' {
				f.icase = true
			} else if p.peek() == 'M' {
				f.multiline = true
			} else {
				break
			}
			p.pos++
		}
		a := &sedAddr{kind: addrRegex}
		if pat != "" {
			re, err := compileRE(pat, f)
			if err != nil {
				return nil, p.errorf("%s", err)
			}
			a.re = re
		}
		return a, nil
	}
	return nil, nil
}

func (p *sedParser) address2() (*sedAddr, error) {
	switch p.peek() {
	case '+', '~':
		kind := addrPlus
		if p.peek() == '~' {
			kind = addrTilde
		}
		p.pos++
		n, ok := p.number()
		if !ok {
			return nil, p.errorf("expected number after + or ~")
		}
		return &sedAddr{kind: kind, n: n}, nil
	}
	a, err := p.address()
	if a != nil && a.kind == addrZero {
		a.kind = addrLine
	}
	if a != nil && a.kind == addrStep {
		// GNU treats addr1,first~step as a plain line number.
		a.kind = addrLine
	}
	return a, err
}

// delimited reads up to an unescaped delim; "\delim" becomes delim, "\n"
// a newline (in regexes, kept as \n for the translator), other escapes
// are kept.
func (p *sedParser) delimited(delim byte, isRegex bool) (string, bool) {
	var b strings.Builder
	for !p.eof() {
		ch := p.src[p.pos]
		p.pos++
		switch {
		case ch == delim:
			return b.String(), true
		case ch == '\\' && !p.eof():
			next := p.src[p.pos]
			p.pos++
			switch {
			case next == delim:
				// Like GNU, "\%" is a plain "%" (so "s.a\.b.X." has a
				// meta dot and "s|a\|b|X|" a literal bar).
				b.WriteByte(delim)
			case next == '\n':
				if isRegex {
					b.WriteString(`\n`)
				} else {
					b.WriteString("\\\n")
				}
			default:
				b.WriteByte('\\')
				b.WriteByte(next)
			}
		case ch == '\n' && isRegex:
			return "", false
		default:
			b.WriteByte(ch)
		}
	}
	return "", false
}

func (p *sedParser) subst(c *sedCmd) error {
	if p.eof() || p.peek() == '\n' || p.peek() == '\\' {
		return p.errorf("unterminated `s' command")
	}
	delim := p.src[p.pos]
	p.pos++
	pat, ok := p.delimited(delim, true)
	if !ok {
		return p.errorf("unterminated `s' command")
	}
	rawRepl, ok := p.replacement(delim)
	if !ok {
		return p.errorf("unterminated `s' command")
	}
	f := reFlags{ere: p.ere, dotNL: true}
	c.nth = 1
	nthSet := false
flags:
	for !p.eof() {
		switch ch := p.peek(); {
		case ch == 'g':
			c.global = true
		case ch == 'p':
			c.print++
		case ch == 'i' || ch == 'I':
			f.icase = true
		case ch == 'm' || ch == 'M':
			f.multiline = true
		case ch == 'e':
			return p.errorf("the e flag is not supported in a box")
		case ch >= '0' && ch <= '9':
			if nthSet {
				return p.errorf("multiple number options to `s' command")
			}
			n, _ := p.number()
			if n == 0 {
				return p.errorf("number option to `s' command may not be zero")
			}
			c.nth = int(n)
			nthSet = true
			continue
		case ch == 'w':
			p.pos++
			c.wfile = p.readFilename()
			if c.wfile == "" {
				return p.errorf("missing filename in r/R/w/W commands")
			}
			p.wfiles[c.wfile] = true
			break flags
		case ch == ';' || ch == '\n' || ch == ' ' || ch == '\t' || ch == '}' || ch == '#':
			break flags
		default:
			p.pos++
			return p.errorf("unknown option to `s'")
		}
		p.pos++
	}
	if pat != "" {
		re, err := compileRE(pat, f)
		if err != nil {
			return p.errorf("%s", err)
		}
		c.re = re
		for _, r := range rawRepl {
			if r.group > re.NumSubexp() {
				return p.errorf("invalid reference \\%d on `s' command's RHS", r.group)
			}
		}
	}
	c.repl = rawRepl
	return nil
}

// replacement parses the right-hand side of s.
func (p *sedParser) replacement(delim byte) ([]sedRepl, bool) {
	var parts []sedRepl
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, sedRepl{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for !p.eof() {
		ch := p.src[p.pos]
		p.pos++
		switch {
		case ch == delim:
			flush()
			return parts, true
		case ch == '&':
			flush()
			parts = append(parts, sedRepl{group: 0})
		case ch == '\\' && !p.eof():
			next := p.src[p.pos]
			p.pos++
			switch {
			case next >= '0' && next <= '9':
				flush()
				parts = append(parts, sedRepl{group: int(next - '0')})
			case next == 'n':
				lit.WriteByte('\n')
			case next == 't':
				lit.WriteByte('\t')
			case next == 'r':
				lit.WriteByte('\r')
			case next == 'a':
				lit.WriteByte('\a')
			case next == 'f':
				lit.WriteByte('\f')
			case next == 'v':
				lit.WriteByte('\v')
			case next == 'U' || next == 'L' || next == 'E' || next == 'u' || next == 'l':
				flush()
				parts = append(parts, sedRepl{group: -1, conv: next})
			case next == 'x' && p.pos+1 < len(p.src) && isHex(p.src[p.pos]) && isHex(p.src[p.pos+1]):
				v, _ := strconv.ParseUint(p.src[p.pos:p.pos+2], 16, 8)
				lit.WriteByte(byte(v))
				p.pos += 2
			default:
				// \& \\ \/ \newline and anything else: the character.
				lit.WriteByte(next)
			}
		default:
			lit.WriteByte(ch)
		}
	}
	return nil, false
}

func (p *sedParser) translit(c *sedCmd) error {
	if p.eof() || p.peek() == '\n' || p.peek() == '\\' {
		return p.errorf("unterminated `y' command")
	}
	delim := p.src[p.pos]
	p.pos++
	read := func() ([]rune, bool) {
		var r []rune
		for !p.eof() {
			ch, n := utf8.DecodeRuneInString(p.src[p.pos:])
			p.pos += n
			switch {
			case ch == rune(delim):
				return r, true
			case ch == '\\' && !p.eof():
				next := p.src[p.pos]
				p.pos++
				switch next {
				case 'n':
					r = append(r, '\n')
				case 't':
					r = append(r, '\t')
				case '\\':
					r = append(r, '\\')
				default:
					if next == delim {
						r = append(r, rune(delim))
					} else {
						r = append(r, '\\', rune(next))
					}
				}
			default:
				r = append(r, ch)
			}
		}
		return nil, false
	}
	from, ok1 := read()
	if !ok1 {
		return p.errorf("unterminated `y' command")
	}
	to, ok2 := read()
	if !ok2 {
		return p.errorf("unterminated `y' command")
	}
	if len(from) != len(to) {
		return p.errorf("strings for `y' command are different lengths")
	}
	c.ymap = map[rune]rune{}
	for i, r := range from {
		c.ymap[r] = to[i]
	}
	return nil
}

// readText reads the text of a, i, c: "a\<newline>text" (lines joined by
// backslash-newline) or the GNU one-liner "a text".
func (p *sedParser) readText() string {
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], "\\\n") {
		p.pos += 2
	} else if p.peek() == '\\' {
		// "a\text": the backslash only protects leading blanks.
		p.pos++
	}
	var b strings.Builder
	for !p.eof() {
		ch := p.src[p.pos]
		p.pos++
		if ch == '\\' && !p.eof() {
			b.WriteByte(p.src[p.pos])
			p.pos++
			continue
		}
		if ch == '\n' {
			break
		}
		b.WriteByte(ch)
	}
	return b.String()
}

func (p *sedParser) readLabel() string {
	start := p.pos
	for !p.eof() && p.peek() != '\n' && p.peek() != ';' && p.peek() != '}' {
		p.pos++
	}
	label := strings.TrimRight(p.src[start:p.pos], " \t")
	if !p.eof() && p.peek() != '}' {
		p.pos++
	}
	return label
}

func (p *sedParser) readFilename() string {
	p.skipSpace()
	start := p.pos
	for !p.eof() && p.peek() != '\n' {
		p.pos++
	}
	name := p.src[start:p.pos]
	if !p.eof() {
		p.pos++
	}
	return name
}
