package applets

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

func init() {
	register("sed", sed)
}

// sedOut is an output of sed that remembers whether the last line written
// lacked its newline (GNU adds it before writing more).
type sedOut struct {
	w         *bufio.Writer
	missingNL bool
	closer    io.Closer
}

func (o *sedOut) line(s string, nl bool, sep byte) {
	if o.missingNL {
		o.w.WriteByte(sep)
	}
	o.w.WriteString(s)
	if nl {
		o.w.WriteByte(sep)
	}
	o.missingNL = !nl
}

// sedSource yields input lines from a list of files, one stream or (-s,
// -i) each file alone.
type sedSource struct {
	r       *sedRun
	files   []string
	idx     int
	lr      *lineReader
	closer  io.Closer
	name    string
	pend    bool
	pLine   string
	pNL     bool
	pName   string
	curName string
}

func (s *sedSource) read() (string, bool, string, bool) {
	for {
		if s.lr == nil {
			if s.idx >= len(s.files) {
				return "", false, "", false
			}
			name := s.files[s.idx]
			s.idx++
			rc, err := s.r.c.open(name)
			if err != nil {
				s.r.c.warnf("can't read %s: %s", name, errText(err))
				s.r.status = 2
				continue
			}
			s.lr, s.closer, s.name = newLineReader(rc), rc, name
			s.lr.sep = s.r.sep
		}
		line, nl, err := s.lr.next()
		if err == nil {
			return string(line), nl, s.name, true
		}
		if err != io.EOF {
			s.r.c.warnf("read error on %s: %s", s.name, errText(err))
			s.r.status = 2
		}
		s.closer.Close()
		s.lr = nil
	}
}

func (s *sedSource) next() (string, bool, bool) {
	if s.pend {
		s.pend = false
		s.curName = s.pName
		return s.pLine, s.pNL, true
	}
	line, nl, name, ok := s.read()
	if ok {
		s.curName = name
	}
	return line, nl, ok
}

func (s *sedSource) last() bool {
	if s.pend {
		return false
	}
	line, nl, name, ok := s.read()
	if !ok {
		return true
	}
	s.pend, s.pLine, s.pNL, s.pName = true, line, nl, name
	return false
}

func (s *sedSource) close() {
	if s.lr != nil {
		s.closer.Close()
		s.lr = nil
	}
}

type appendItem struct {
	text  string
	file  string // r
	rfile string // R: one line of this file
}

type sedRun struct {
	c        *cmd
	prog     []*sedCmd
	quiet    bool
	sep      byte
	out      *sedOut
	stdout   *sedOut
	wfiles   map[string]*sedOut
	rfiles   map[string]*lineReader
	closers  []io.Closer
	in       *sedSource
	ps, hs   string
	hasNL    bool
	lineNo   int64
	lastRE   *regexp.Regexp
	tflag    bool
	appendQ  []appendItem
	quit     bool
	exitCode int
	status   int
	lwrap    int
	err      error
}

// sedMaxSpace bounds the pattern plus hold space when positive (tests
// and fuzzing; a box has its own memory limit).
var sedMaxSpace = 0

const (
	actNext = iota
	actDelete
	actRestart
	actQuit
	actQuitSilent
)

func sed(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "ne:f:Eri::sz ul:", long: map[string]string{
		"quiet": "n", "silent": "n", "expression=": "e", "file=": "f", "regexp-extended": "E",
		"in-place?": "i", "separate": "s", "null-data": "z", "zero-terminated": "z", "unbuffered": "u",
		"line-length=": "l", "posix": "posix", "debug": "debug", "sandbox": "sandbox",
		"follow-symlinks": "follow-symlinks", "version": "version"}}, args[1:])
	if !ok {
		return code
	}
	if o.has("version") {
		c.out.WriteString("sed (wasmbox) 4.9, compatible with GNU sed\n")
		return c.done()
	}
	var script strings.Builder
	var segs []int
	haveScript := false
	for _, x := range o.list {
		switch x.key {
		case "e", "f":
			if haveScript {
				script.WriteByte('\n')
			}
			segs = append(segs, script.Len())
			haveScript = true
			if x.key == "e" {
				script.WriteString(x.arg)
				continue
			}
			var data []byte
			var err error
			if x.arg == "-" {
				data, err = io.ReadAll(c.stdin())
			} else {
				data, err = os.ReadFile(c.abs(x.arg))
			}
			if err != nil {
				return c.fail(1, "couldn't open file %s: %s", x.arg, errText(err))
			}
			script.WriteString(strings.TrimSuffix(string(data), "\n"))
		}
	}
	if !haveScript {
		if len(operands) == 0 {
			c.out.Flush()
			io.WriteString(c.stderr(), "Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...\n")
			return 1
		}
		segs = []int{0}
		script.WriteString(operands[0])
		operands = operands[1:]
	}
	p, err := parseSed(script.String(), segs, o.has("E") || o.has("r"))
	if err != nil {
		if se, ok := err.(*sedError); ok && se.status != 0 {
			return c.fail(se.status, "%s", err)
		}
		return c.fail(1, "%s", err)
	}
	r := &sedRun{c: c, prog: p.cmds, quiet: o.has("n") || p.quiet, sep: '\n',
		wfiles: map[string]*sedOut{}, rfiles: map[string]*lineReader{}, lwrap: 70}
	if o.has("z") {
		r.sep = 0
	}
	if v, ok := o.val("l"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c.fail(1, "invalid line length: %s", v)
		}
		r.lwrap = n
	}
	r.stdout = &sedOut{w: c.out}
	r.out = r.stdout
	for name := range p.wfiles {
		switch name {
		case "/dev/stdout":
			r.wfiles[name] = r.stdout
		case "/dev/stderr":
			r.wfiles[name] = &sedOut{w: bufio.NewWriterSize(c.stderr(), 0)}
		default:
			f, err := os.Create(c.abs(name))
			if err != nil {
				return c.fail(4, "couldn't open file %s: %s", name, errText(err))
			}
			r.wfiles[name] = &sedOut{w: bufio.NewWriter(f), closer: f}
		}
	}
	defer func() {
		for _, w := range r.wfiles {
			if w.closer != nil {
				w.w.Flush()
				w.closer.Close()
			}
		}
		for _, f := range r.closers {
			f.Close()
		}
	}()
	if len(operands) == 0 {
		operands = []string{"-"}
	}
	inPlace := o.has("i")
	switch {
	case inPlace:
		suffix, _ := o.val("i")
		for _, name := range operands {
			if r.quit || c.broken() {
				break
			}
			r.editInPlace(name, suffix)
		}
	case o.has("s"):
		for _, name := range operands {
			if r.quit || c.broken() {
				break
			}
			r.in = &sedSource{r: r, files: []string{name}}
			r.lineNo = 0
			r.cycles()
			r.in.close()
		}
	default:
		r.in = &sedSource{r: r, files: operands}
		r.cycles()
		r.in.close()
	}
	if r.err != nil {
		return c.finish(1)
	}
	status := r.status
	if r.exitCode != 0 {
		status = r.exitCode
	}
	return c.finish(status)
}

func (r *sedRun) editInPlace(name, suffix string) {
	c := r.c
	full := c.abs(name)
	fi, err := Stat(full)
	if err != nil {
		c.warnf("can't read %s: %s", name, errText(err))
		r.status = 2
		return
	}
	if !fi.Mode().IsRegular() {
		c.warnf("couldn't edit %s: not a regular file", name)
		r.status = 4
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(full), ".sed*")
	if err != nil {
		c.warnf("couldn't open temporary file %s: %s", filepath.Join(filepath.Dir(name), "sedXXXXXX"), errText(err))
		r.status = 4
		return
	}
	bw := bufio.NewWriterSize(tmp, 32<<10)
	r.out = &sedOut{w: bw}
	r.in = &sedSource{r: r, files: []string{name}}
	r.lineNo = 0
	r.cycles()
	r.in.close()
	r.out = r.stdout
	werr := bw.Flush()
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp.Name())
		c.warnf("couldn't write %s: %s", name, errText(werr))
		r.status = 4
		return
	}
	Chmod(tmp.Name(), goMode(unixMode(fi.Mode())))
	if suffix != "" {
		backup := name + suffix
		if strings.Contains(suffix, "*") {
			backup = strings.ReplaceAll(suffix, "*", filepath.Base(name))
			if !strings.Contains(backup, "/") {
				backup = filepath.Join(filepath.Dir(name), backup)
			}
		}
		if err := os.Rename(full, c.abs(backup)); err != nil {
			c.warnf("cannot rename %s: %s", name, errText(err))
			r.status = 4
		}
	}
	if err := os.Rename(tmp.Name(), full); err != nil {
		os.Remove(tmp.Name())
		c.warnf("cannot rename %s: %s", tmp.Name(), errText(err))
		r.status = 4
	}
}

// cycles runs the script over every line of r.in.
func (r *sedRun) cycles() {
	restart := false
	for !r.quit && !r.c.broken() {
		if !restart {
			line, nl, ok := r.in.next()
			if !ok {
				return
			}
			r.ps, r.hasNL = line, nl
			r.lineNo++
			r.tflag = false
		}
		restart = false
		act := r.execute()
		if r.err != nil {
			r.quit = true
			return
		}
		switch act {
		case actNext, actQuit:
			if !r.quiet {
				r.out.line(r.ps, r.hasNL, r.sep)
			}
			r.dumpAppend()
			if act == actQuit {
				r.quit = true
			}
		case actDelete:
			r.dumpAppend()
		case actRestart:
			r.dumpAppend()
			restart = true
		case actQuitSilent:
			r.quit = true
		}
	}
}

func (r *sedRun) dumpAppend() {
	for _, a := range r.appendQ {
		switch {
		case a.file != "":
			var data []byte
			var err error
			if a.file == "/dev/stdin" {
				data, err = io.ReadAll(r.c.stdin())
			} else {
				data, err = os.ReadFile(r.c.abs(a.file))
			}
			if err == nil && len(data) > 0 {
				if r.out.missingNL {
					r.out.w.WriteByte(r.sep)
				}
				r.out.w.Write(data)
				r.out.missingNL = false
			}
		case a.rfile != "":
			lr, ok := r.rfiles[a.rfile]
			if !ok {
				if f, err := os.Open(r.c.abs(a.rfile)); err == nil {
					lr = newLineReader(f)
					r.closers = append(r.closers, f)
				}
				r.rfiles[a.rfile] = lr
			}
			if lr != nil {
				if line, nl, err := lr.next(); err == nil {
					r.out.line(string(line), nl, r.sep)
				}
			}
		case a.text == "":
			// "$a\" with no text only ends an unterminated last line.
			if r.out.missingNL {
				r.out.w.WriteByte(r.sep)
				r.out.missingNL = false
			}
		default:
			r.out.line(a.text, true, r.sep)
		}
	}
	r.appendQ = r.appendQ[:0]
}

func (r *sedRun) runtimeErr(msg string) {
	if r.err == nil {
		r.c.warnf("%s", msg)
		r.err = fmt.Errorf("%s", msg)
	}
}

func (r *sedRun) regex(re *regexp.Regexp) *regexp.Regexp {
	if re == nil {
		if r.lastRE == nil {
			r.runtimeErr("no previous regular expression")
		}
		return r.lastRE
	}
	r.lastRE = re
	return re
}

func (r *sedRun) matchAddr(a *sedAddr) bool {
	switch a.kind {
	case addrLine:
		return r.lineNo == a.n
	case addrLast:
		return r.in.last()
	case addrRegex:
		re := r.regex(a.re)
		return re != nil && re.MatchString(r.ps)
	case addrStep:
		if a.step <= 0 {
			return r.lineNo == a.n
		}
		return r.lineNo >= a.n && (r.lineNo-a.n)%a.step == 0
	}
	return false
}

func (r *sedRun) match(c *sedCmd) bool {
	if c.a1 == nil {
		return true
	}
	if c.a2 == nil {
		return r.matchAddr(c.a1)
	}
	if !c.active && c.a1.kind == addrZero && r.lineNo == 1 {
		c.active = true
	}
	if c.active {
		switch c.a2.kind {
		case addrLine:
			if r.lineNo >= c.a2.n {
				c.active = false
			}
			if r.lineNo > c.a2.n {
				// Line numbers restarted (-s): the range is over.
				return r.matchStart(c)
			}
		case addrPlus, addrTilde:
			if r.lineNo >= c.rangeEnd {
				c.active = false
			}
		case addrLast:
			if r.in.last() {
				c.active = false
			}
		case addrRegex:
			if re := r.regex(c.a2.re); re != nil && re.MatchString(r.ps) {
				c.active = false
			}
		}
		return true
	}
	return r.matchStart(c)
}

// matchStart checks whether a range starts on this line.
func (r *sedRun) matchStart(c *sedCmd) bool {
	if !r.matchAddr(c.a1) {
		return false
	}
	c.active = true
	switch c.a2.kind {
	case addrLine:
		if c.a2.n <= r.lineNo {
			c.active = false
		}
	case addrPlus:
		c.rangeEnd = r.lineNo + c.a2.n
		if c.a2.n == 0 {
			c.active = false
		}
	case addrTilde:
		if c.a2.n <= 0 || r.lineNo%c.a2.n == 0 {
			c.active = false
		} else {
			c.rangeEnd = (r.lineNo/c.a2.n + 1) * c.a2.n
		}
	case addrLast:
		if r.in.last() {
			c.active = false
		}
	}
	return true
}

// execute runs the script once over the pattern space.
func (r *sedRun) execute() int {
	prog := r.prog
	for pc := 0; pc < len(prog); pc++ {
		if r.err != nil {
			return actQuitSilent
		}
		if sedMaxSpace > 0 && len(r.ps)+len(r.hs) > sedMaxSpace {
			r.runtimeErr("pattern space too large")
			return actQuitSilent
		}
		c := prog[pc]
		if c.name != '}' && r.match(c) == c.negate {
			if c.name == '{' {
				pc = c.block
			}
			continue
		}
		switch c.name {
		case '{', '}', ':':
		case '=':
			r.out.line(strconv.FormatInt(r.lineNo, 10), true, '\n')
		case 'a':
			r.appendQ = append(r.appendQ, appendItem{text: c.text})
		case 'i':
			if c.text != "" {
				r.out.line(c.text, true, r.sep)
			}
		case 'c':
			if (c.a2 == nil || !c.active || c.negate) && c.text != "" {
				r.out.line(c.text, true, r.sep)
			}
			return actDelete
		case 'd':
			return actDelete
		case 'D':
			i := strings.IndexByte(r.ps, '\n')
			if i < 0 {
				return actDelete
			}
			r.ps = r.ps[i+1:]
			return actRestart
		case 'n':
			if r.in.last() {
				return actQuit
			}
			if !r.quiet {
				r.out.line(r.ps, r.hasNL, r.sep)
			}
			r.dumpAppend()
			line, nl, _ := r.in.next()
			r.ps, r.hasNL = line, nl
			r.lineNo++
		case 'N':
			if r.in.last() {
				return actQuit
			}
			r.dumpAppend()
			line, nl, _ := r.in.next()
			r.ps += "\n" + line
			r.hasNL = nl
			r.lineNo++
		case 'p':
			r.out.line(r.ps, r.hasNL, r.sep)
		case 'P':
			if i := strings.IndexByte(r.ps, '\n'); i >= 0 {
				r.out.line(r.ps[:i], true, r.sep)
			} else {
				r.out.line(r.ps, r.hasNL, r.sep)
			}
		case 'g':
			r.ps = r.hs
		case 'G':
			r.ps += "\n" + r.hs
		case 'h':
			r.hs = r.ps
		case 'H':
			r.hs += "\n" + r.ps
		case 'x':
			r.ps, r.hs = r.hs, r.ps
		case 'z':
			r.ps = ""
		case 'l':
			width := r.lwrap
			if c.exitCode >= 0 {
				width = c.exitCode
			}
			r.out.line(sedEscape(r.ps, width), true, '\n')
		case 'F':
			name := r.in.curName
			if name == "" {
				name = "-"
			}
			r.out.line(name, true, '\n')
		case 'q':
			r.exitCode = c.exitCode
			return actQuit
		case 'Q':
			r.exitCode = c.exitCode
			return actQuitSilent
		case 'r':
			r.appendQ = append(r.appendQ, appendItem{file: c.text})
		case 'R':
			r.appendQ = append(r.appendQ, appendItem{rfile: c.text})
		case 'w':
			r.wfiles[c.text].line(r.ps, true, r.sep)
		case 'W':
			first, _, _ := strings.Cut(r.ps, "\n")
			r.wfiles[c.text].line(first, true, r.sep)
		case 'b', 't', 'T':
			jump := c.name == 'b'
			if c.name == 't' && r.tflag {
				jump, r.tflag = true, false
			}
			if c.name == 'T' {
				jump = !r.tflag
				r.tflag = false
			}
			if jump {
				if r.c.ctx.Err() != nil {
					// An endless loop (":a;ba") ends with the context.
					return actQuitSilent
				}
				if c.text == "" {
					return actNext
				}
				pc = r.label(c.text)
			}
		case 's':
			r.subst(c)
		case 'y':
			var b strings.Builder
			for _, ch := range r.ps {
				if to, ok := c.ymap[ch]; ok {
					ch = to
				}
				b.WriteRune(ch)
			}
			r.ps = b.String()
		}
	}
	return actNext
}

func (r *sedRun) label(name string) int {
	for i, c := range r.prog {
		if c.name == ':' && c.text == name {
			return i
		}
	}
	return len(r.prog)
}

func (r *sedRun) subst(c *sedCmd) {
	re := r.regex(c.re)
	if re == nil {
		return
	}
	ms := re.FindAllStringSubmatchIndex(r.ps, -1)
	if len(ms) == 0 {
		return
	}
	var b strings.Builder
	last := 0
	done := false
	for k, m := range ms {
		n := k + 1
		if n < c.nth || (n > c.nth && !c.global) {
			continue
		}
		b.WriteString(r.ps[last:m[0]])
		expandRepl(&b, c.repl, r.ps, m)
		last = m[1]
		done = true
	}
	if !done {
		return
	}
	b.WriteString(r.ps[last:])
	r.ps = b.String()
	r.tflag = true
	for i := 0; i < c.print; i++ {
		r.out.line(r.ps, r.hasNL, r.sep)
	}
	if c.wfile != "" {
		r.wfiles[c.wfile].line(r.ps, true, r.sep)
	}
}

// expandRepl writes a replacement with groups and \U \L \u \l \E.
func expandRepl(b *strings.Builder, repl []sedRepl, s string, m []int) {
	var mode, once byte
	write := func(t string) {
		if mode == 0 && once == 0 {
			b.WriteString(t)
			return
		}
		for _, ch := range t {
			switch {
			case once == 'u':
				ch = unicode.ToUpper(ch)
				once = 0
			case once == 'l':
				ch = unicode.ToLower(ch)
				once = 0
			case mode == 'U':
				ch = unicode.ToUpper(ch)
			case mode == 'L':
				ch = unicode.ToLower(ch)
			}
			b.WriteRune(ch)
		}
	}
	for _, p := range repl {
		switch {
		case p.conv == 'U' || p.conv == 'L':
			mode, once = p.conv, 0
		case p.conv == 'E':
			mode, once = 0, 0
		case p.conv == 'u' || p.conv == 'l':
			once = p.conv
		case p.group >= 0:
			if 2*p.group+1 < len(m) && m[2*p.group] >= 0 {
				write(s[m[2*p.group]:m[2*p.group+1]])
			}
		default:
			write(p.lit)
		}
	}
}

// sedEscape is the l command's unambiguous form, wrapped at width.
func sedEscape(s string, width int) string {
	var b strings.Builder
	col := 0
	emit := func(t string) {
		if width > 1 && col+len(t) > width-1 {
			b.WriteString("\\\n")
			col = 0
		}
		b.WriteString(t)
		col += len(t)
	}
	for i := 0; i < len(s); {
		ch := s[i]
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case ch == '\\':
			emit(`\\`)
		case ch == '\a':
			emit(`\a`)
		case ch == '\b':
			emit(`\b`)
		case ch == '\f':
			emit(`\f`)
		case ch == '\n':
			emit(`\n`)
		case ch == '\r':
			emit(`\r`)
		case ch == '\t':
			emit(`\t`)
		case ch == '\v':
			emit(`\v`)
		case r != utf8.RuneError && r >= 128 && unicode.IsPrint(r):
			emit(s[i : i+n])
			i += n
			continue
		case ch < 32 || ch >= 127:
			emit(fmt.Sprintf("\\%03o", ch))
		default:
			emit(string(ch))
		}
		i++
	}
	b.WriteString("$")
	return b.String()
}
