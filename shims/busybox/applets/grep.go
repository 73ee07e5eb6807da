package applets

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

func init() {
	register("grep", grep)
	register("egrep", func(ctx context.Context, env *Env, args []string) int {
		return grep(ctx, env, append([]string{args[0], "-E"}, args[1:]...))
	})
	register("fgrep", func(ctx context.Context, env *Env, args []string) int {
		return grep(ctx, env, append([]string{args[0], "-F"}, args[1:]...))
	})
}

type grepper struct {
	*cmd
	re                          *regexp.Regexp
	matchAll                    bool // an empty pattern: every line matches
	invert, count, list, listNo bool
	quiet, onlyMatch, lineNum   bool
	word, silent, byteOff       bool
	withName                    bool
	maxCount                    int64
	before, after               int
	binaryText, binarySkip      bool
	nul                         bool // -Z: NUL after file names
	includes, excludes, exclDir []string
	recursive, deref            bool
	matched                     bool // some line was selected
	errored                     bool
	stop                        bool // -q matched: stop everything
	lastPrinted                 int64
	anyOutput                   bool
	stripDot                    bool // grep -r without operands: no "./"
	listedNo                    bool // -L listed a file
}

func grep(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "EFGPiyvclLnqsrRowxe:f:hHm:A:B:C:abIZU0123456789", usage: 2, long: map[string]string{
		"extended-regexp": "E", "fixed-strings": "F", "basic-regexp": "G", "perl-regexp": "P",
		"ignore-case": "i", "no-ignore-case": "no-ignore-case", "invert-match": "v", "count": "c",
		"files-with-matches": "l", "files-without-match": "L", "line-number": "n", "quiet": "q",
		"silent": "q", "no-messages": "s", "recursive": "r", "dereference-recursive": "R",
		"only-matching": "o", "word-regexp": "w", "line-regexp": "x", "regexp=": "e", "file=": "f",
		"no-filename": "h", "with-filename": "H", "max-count=": "m", "after-context=": "A",
		"before-context=": "B", "context=": "C", "text": "a", "byte-offset": "b", "null": "Z",
		"color?": "color", "colour?": "color", "include=": "include", "exclude=": "exclude",
		"exclude-dir=": "exclude-dir", "line-buffered": "line-buffered", "binary": "U",
		"binary-files=": "binary-files", "label=": "label"}}, args[1:])
	if !ok {
		return code
	}
	g := &grepper{cmd: c, maxCount: -1}
	g.invert, g.count, g.list, g.listNo = o.has("v"), o.has("c"), o.has("l"), o.has("L")
	g.quiet, g.onlyMatch, g.lineNum = o.has("q"), o.has("o"), o.has("n")
	g.word, g.silent, g.byteOff, g.nul = o.has("w"), o.has("s"), o.has("b"), o.has("Z")
	g.recursive, g.deref = o.has("r") || o.has("R"), o.has("R")
	g.includes, g.excludes, g.exclDir = o.all("include"), o.all("exclude"), o.all("exclude-dir")
	g.binaryText = o.has("a") || o.str("binary-files", "") == "text"
	g.binarySkip = o.has("I") || o.str("binary-files", "") == "without-match"
	num := func(k string) (int64, bool) {
		v, _ := o.val(k)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			c.warnf("invalid %s argument: '%s'", map[string]string{"m": "max count", "A": "context length", "B": "context length", "C": "context length"}[k], v)
			return 0, false
		}
		return n, true
	}
	// -NUM is -C NUM.
	digits := ""
	for _, x := range o.list {
		if len(x.key) == 1 && x.key[0] >= '0' && x.key[0] <= '9' {
			digits += x.key
		}
	}
	if digits != "" {
		o.list = append(o.list, opt{key: "C", arg: digits})
	}
	if o.has("m") {
		n, ok := num("m")
		if !ok {
			return c.finish(2)
		}
		g.maxCount = n
	}
	for _, k := range []string{"C", "A", "B"} {
		if o.has(k) {
			n, ok := num(k)
			if !ok {
				return c.finish(2)
			}
			switch k {
			case "C":
				g.before, g.after = int(n), int(n)
			case "A":
				g.after = int(n)
			case "B":
				g.before = int(n)
			}
		}
	}
	// Patterns: -e and -f, else the first operand; newlines separate
	// patterns.
	var pats []string
	havePats := false
	for _, x := range o.list {
		switch x.key {
		case "e":
			pats = append(pats, strings.Split(x.arg, "\n")...)
			havePats = true
		case "f":
			var data []byte
			var err error
			if x.arg == "-" {
				data, err = io.ReadAll(c.stdin())
			} else {
				data, err = os.ReadFile(c.abs(x.arg))
			}
			if err != nil {
				return c.fail(2, "%s: %s", x.arg, errText(err))
			}
			s := strings.TrimSuffix(string(data), "\n")
			if s != "" || len(data) > 0 {
				pats = append(pats, strings.Split(s, "\n")...)
			}
			havePats = true
		}
	}
	if !havePats {
		if len(operands) == 0 {
			c.out.Flush()
			io.WriteString(c.stderr(), "Usage: grep [OPTION]... PATTERNS [FILE]...\n")
			return 2
		}
		pats = strings.Split(operands[0], "\n")
		operands = operands[1:]
	}
	mode := o.last("E", "F", "G", "P")
	icase := o.last("i", "y", "no-ignore-case") == "i" || o.last("i", "y", "no-ignore-case") == "y"
	if err := g.compile(pats, mode, icase, o.has("x")); err != nil {
		return c.fail(2, "%s", err)
	}
	if len(operands) == 0 {
		if g.recursive {
			operands = []string{"."}
			g.withName = true
			g.stripDot = true
		} else {
			operands = []string{"-"}
		}
	}
	if len(operands) > 1 || g.recursive {
		g.withName = true
	}
	switch o.last("h", "H") {
	case "h":
		g.withName = false
	case "H":
		g.withName = true
	}
	for _, name := range operands {
		if g.stop || c.broken() {
			break
		}
		g.operand(name)
	}
	status := 1
	if g.matched && !g.listNo || g.listNo && g.listedNo {
		status = 0
	}
	if g.errored && !(g.quiet && g.matched) {
		status = 2
	}
	return c.finish(status)
}

func (g *grepper) compile(pats []string, mode string, icase, line bool) error {
	var alts []string
	for _, p := range pats {
		if p == "" {
			if !line && !g.word {
				g.matchAll = true
			}
		}
		var s string
		switch mode {
		case "F":
			s = regexp.QuoteMeta(p)
		case "P":
			s = p
		default:
			var err error
			s, err = translateRE(p, mode == "E")
			if err != nil {
				return err
			}
		}
		alts = append(alts, "(?:"+s+")")
	}
	expr := strings.Join(alts, "|")
	if len(alts) == 0 {
		expr = "[^\\x00-\\x{10FFFF}]" // matches nothing
	}
	if line {
		expr = "^(?:" + expr + ")$"
	}
	if icase {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		if mode == "F" || mode == "P" {
			return err
		}
		// Report in POSIX words.
		_, err2 := compileRE(strings.Join(pats, "\n"), reFlags{ere: mode == "E"})
		if err2 != nil {
			return err2
		}
		return err
	}
	if mode != "P" {
		re.Longest()
	}
	g.re = re
	return nil
}

// matches returns the [start, end) ranges of the matches in line (only
// the first unless all).
func (g *grepper) matches(line []byte, all bool) [][]int {
	if g.matchAll && !all {
		return [][]int{{0, 0}}
	}
	var r [][]int
	pos := 0
	for pos <= len(line) {
		loc := g.re.FindIndex(line[pos:])
		if loc == nil {
			break
		}
		s, e := loc[0]+pos, loc[1]+pos
		if g.word && !wordBounded(line, s, e) {
			// Try a later start.
			_, n := utf8.DecodeRune(line[s:])
			if s >= len(line) {
				break
			}
			pos = s + max(n, 1)
			continue
		}
		r = append(r, []int{s, e})
		if !all {
			break
		}
		if e == s {
			if e >= len(line) {
				break
			}
			_, n := utf8.DecodeRune(line[e:])
			pos = e + max(n, 1)
		} else {
			pos = e
		}
	}
	return r
}

func isWordByte(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func wordBounded(line []byte, s, e int) bool {
	if s > 0 {
		r, _ := utf8.DecodeLastRune(line[:s])
		if isWordByte(r) {
			return false
		}
	}
	if e < len(line) {
		r, _ := utf8.DecodeRune(line[e:])
		if isWordByte(r) {
			return false
		}
	}
	return true
}

// operand greps a file operand, recursing into directories with -r.
func (g *grepper) operand(name string) {
	if name == "-" {
		g.file("(standard input)", g.stdin())
		return
	}
	full := g.abs(name)
	fi, err := os.Stat(full)
	if err != nil {
		g.errored = true
		if !g.silent {
			g.warnf("%s: %s", name, errText(err))
		}
		return
	}
	if fi.IsDir() {
		if !g.recursive {
			g.warnf("%s: Is a directory", name)
			g.errored = true
			return
		}
		g.walk(name, full)
		return
	}
	g.openFile(name, full)
}

func (g *grepper) openFile(name, full string) {
	f, err := os.Open(full)
	if err != nil {
		g.errored = true
		if !g.silent {
			g.warnf("%s: %s", name, errText(err))
		}
		return
	}
	defer f.Close()
	g.file(name, f)
}

func (g *grepper) walk(name, full string) {
	ents, err := os.ReadDir(full)
	if err != nil {
		g.errored = true
		if !g.silent {
			g.warnf("%s: %s", name, errText(err))
		}
		return
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		if g.stop || g.broken() {
			return
		}
		child := name + "/" + e.Name()
		switch {
		case name == "." && g.stripDot:
			child = e.Name()
		case strings.HasSuffix(name, "/"):
			child = name + e.Name()
		}
		cfull := path.Join(full, e.Name())
		typ := e.Type()
		if typ&fs.ModeSymlink != 0 {
			if !g.deref {
				continue
			}
			fi, err := os.Stat(cfull)
			if err != nil {
				continue
			}
			typ = fi.Mode().Type()
		}
		if typ.IsDir() {
			if globAny(g.exclDir, e.Name()) {
				continue
			}
			g.walk(child, cfull)
			continue
		}
		if !typ.IsRegular() {
			continue
		}
		if len(g.includes) > 0 && !globAny(g.includes, e.Name()) {
			continue
		}
		if globAny(g.excludes, e.Name()) {
			continue
		}
		g.openFile(child, cfull)
	}
}

func globAny(pats []string, name string) bool {
	for _, p := range pats {
		if fnmatch(p, name, false, false) {
			return true
		}
	}
	return false
}

// file greps one input.
func (g *grepper) file(name string, r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	binary := false
	if !g.binaryText {
		head, _ := br.Peek(32 << 10)
		binary = bytes.IndexByte(head, 0) >= 0
		if binary && g.binarySkip {
			return
		}
	}
	out := g.out
	var selected int64
	var lineNo int64
	var offset int64
	type ctxLine struct {
		no, off int64
		text    []byte
	}
	var beforeBuf []ctxLine
	afterLeft := 0
	g.lastPrinted = 0
	sepName := func(sep byte) {
		if g.withName {
			out.WriteString(name)
			if g.nul {
				out.WriteByte(0)
			} else {
				out.WriteByte(sep)
			}
		}
	}
	printLine := func(no, off int64, text []byte, sep byte) {
		if g.anyOutput && (g.before > 0 || g.after > 0) && g.lastPrinted != 0 && no > g.lastPrinted+1 {
			out.WriteString("--\n")
		} else if g.anyOutput && (g.before > 0 || g.after > 0) && g.lastPrinted == 0 {
			out.WriteString("--\n")
		}
		sepName(sep)
		if g.lineNum {
			out.WriteString(strconv.FormatInt(no, 10))
			out.WriteByte(sep)
		}
		if g.byteOff {
			out.WriteString(strconv.FormatInt(off, 10))
			out.WriteByte(sep)
		}
		out.Write(text)
		out.WriteByte('\n')
		g.lastPrinted = no
		g.anyOutput = true
	}
	quietOut := g.quiet || g.list || g.listNo || g.count || binary
	for !g.broken() {
		if g.maxCount >= 0 && selected >= g.maxCount {
			if afterLeft == 0 || quietOut {
				break
			}
		}
		raw, err := br.ReadBytes('\n')
		if len(raw) == 0 && err != nil {
			if err != io.EOF {
				g.errored = true
				if !g.silent {
					g.warnf("%s: %s", name, errText(err))
				}
			}
			break
		}
		lineNo++
		lineOff := offset
		offset += int64(len(raw))
		line := bytes.TrimSuffix(raw, []byte{'\n'})
		var ms [][]int
		if !g.matchAll || g.onlyMatch {
			ms = g.matches(line, g.onlyMatch && !g.invert)
		}
		hit := g.matchAll || len(ms) > 0
		if hit != g.invert && !(g.maxCount >= 0 && selected >= g.maxCount) {
			selected++
			g.matched = true
			if g.quiet {
				g.stop = true
				return
			}
			if quietOut {
				if g.list || (binary && !g.count && !g.listNo) {
					break
				}
				continue
			}
			for _, b := range beforeBuf {
				printLine(b.no, b.off, b.text, '-')
			}
			beforeBuf = beforeBuf[:0]
			if g.onlyMatch {
				if !g.invert {
					for _, m := range ms {
						if m[1] > m[0] {
							printLine(lineNo, lineOff+int64(m[0]), line[m[0]:m[1]], ':')
						}
					}
				}
			} else {
				printLine(lineNo, lineOff, line, ':')
			}
			afterLeft = g.after
			continue
		}
		if quietOut {
			continue
		}
		if afterLeft > 0 {
			afterLeft--
			printLine(lineNo, lineOff, line, '-')
			continue
		}
		if g.before > 0 {
			beforeBuf = append(beforeBuf, ctxLine{lineNo, lineOff, append([]byte(nil), line...)})
			if len(beforeBuf) > g.before {
				beforeBuf = beforeBuf[1:]
			}
		}
	}
	switch {
	case g.count:
		sepName(':')
		out.WriteString(strconv.FormatInt(selected, 10) + "\n")
	case g.list:
		if selected > 0 {
			out.WriteString(name)
			g.listEnd()
		}
	case g.listNo:
		if selected == 0 {
			out.WriteString(name)
			g.listEnd()
		}
	case binary && selected > 0:
		g.warnf("%s: binary file matches", name)
	}
	if g.listNo && selected == 0 {
		g.listedNo = true
	}
}

func (g *grepper) listEnd() {
	if g.nul {
		g.out.WriteByte(0)
	} else {
		g.out.WriteByte('\n')
	}
}
