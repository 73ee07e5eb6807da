package applets

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

func init() {
	register("sort", sortApplet)
}

// sortKey is one -k KEYDEF (or the whole line) with its ordering options.
type sortKey struct {
	f1, c1, f2, c2                          int // fields and characters, 1-based; f2 0 = end of line
	numeric, human, general, version, month bool
	fold, reverse, blanks, dict             bool
}

func (k *sortKey) setFlags(s string) error {
	for _, ch := range s {
		switch ch {
		case 'n':
			k.numeric = true
		case 'h':
			k.human = true
		case 'g':
			k.general = true
		case 'V':
			k.version = true
		case 'M':
			k.month = true
		case 'f':
			k.fold = true
		case 'r':
			k.reverse = true
		case 'b':
			k.blanks = true
		case 'd':
			k.dict = true
		default:
			return fmt.Errorf("invalid key option '%c'", ch)
		}
	}
	return nil
}

func (k *sortKey) hasFlags() bool {
	return k.numeric || k.human || k.general || k.version || k.month || k.fold || k.reverse || k.blanks || k.dict
}

// parseKeyDef parses F[.C][OPTS][,F[.C][OPTS]].
func parseKeyDef(s string) (*sortKey, error) {
	k := &sortKey{}
	start, end, hasEnd := strings.Cut(s, ",")
	parse := func(p string) (f, ch int, flags string, err error) {
		i := 0
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, 0, "", fmt.Errorf("invalid number at field start: invalid count at start of '%s'", s)
		}
		f, _ = strconv.Atoi(p[:i])
		if i < len(p) && p[i] == '.' {
			j := i + 1
			for j < len(p) && p[j] >= '0' && p[j] <= '9' {
				j++
			}
			ch, _ = strconv.Atoi(p[i+1 : j])
			i = j
		}
		return f, ch, p[i:], nil
	}
	f, ch, flags, err := parse(start)
	if err != nil {
		return nil, err
	}
	if f == 0 {
		return nil, fmt.Errorf("invalid number at field start: invalid count at start of '%s'", s)
	}
	if ch == 0 {
		ch = 1
	}
	k.f1, k.c1 = f, ch
	if err := k.setFlags(flags); err != nil {
		return nil, err
	}
	if hasEnd {
		f, ch, flags, err := parse(end)
		if err != nil {
			return nil, err
		}
		k.f2, k.c2 = f, ch
		if err := k.setFlags(flags); err != nil {
			return nil, err
		}
	}
	return k, nil
}

type sorter struct {
	keys   []*sortKey
	tab    byte // 0: fields are separated by blank runs
	global sortKey
	unique bool
	stable bool
}

// fields returns the start offsets of each field of line (each field
// includes its leading blanks when there is no -t).
func (s *sorter) fieldStarts(line []byte) []int {
	starts := []int{0}
	if s.tab != 0 {
		for i, ch := range line {
			if ch == s.tab {
				starts = append(starts, i+1)
			}
		}
		return starts
	}
	i := 0
	for i < len(line) {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		for i < len(line) && !isBlank(line[i]) {
			i++
		}
		if i < len(line) {
			starts = append(starts, i)
		}
	}
	return starts
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' }

// extract returns the part of line a key looks at.
func (s *sorter) extract(line []byte, k *sortKey) []byte {
	starts := s.fieldStarts(line)
	fieldEnd := func(f int) int { // end of field f (1-based), excluding the separator
		if f < len(starts) {
			e := starts[f]
			if s.tab != 0 {
				e--
			}
			return e
		}
		return len(line)
	}
	if k.f1 > len(starts) {
		return nil
	}
	begin := starts[k.f1-1]
	if k.blanks {
		for begin < len(line) && isBlank(line[begin]) {
			begin++
		}
	}
	begin += k.c1 - 1
	end := len(line)
	if k.f2 > 0 {
		if k.f2 > len(starts) {
			end = len(line)
		} else if k.c2 == 0 {
			end = fieldEnd(k.f2)
		} else {
			e := starts[k.f2-1]
			if k.blanks {
				for e < len(line) && isBlank(line[e]) {
					e++
				}
			}
			end = min(e+k.c2, fieldEnd(k.f2))
		}
	}
	if begin > len(line) {
		begin = len(line)
	}
	if end < begin {
		return nil
	}
	return line[begin:end]
}

// numPrefixVal parses a -n number: blanks, optional minus, digits with an
// optional decimal point.
func numVal(b []byte) float64 {
	i := 0
	for i < len(b) && isBlank(b[i]) {
		i++
	}
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	for j < len(b) && (b[j] >= '0' && b[j] <= '9') {
		j++
	}
	if j < len(b) && b[j] == '.' {
		j++
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	}
	v, err := strconv.ParseFloat(string(b[i:j]), 64)
	if err != nil {
		return 0
	}
	return v
}

// humanVal orders -h numbers: by suffix first, then value.
func humanVal(b []byte) (int, float64) {
	v := numVal(b)
	s := strings.TrimLeft(string(b), " \t-0123456789.")
	mag := 0
	if s != "" {
		mag = strings.IndexByte("KMGTPEZY", strings.ToUpper(s[:1])[0]) + 1
		if s[0] == 'k' {
			mag = 1
		}
	}
	if v < 0 {
		return -mag, v
	}
	if v == 0 {
		return 0, 0
	}
	return mag, v
}

func generalVal(b []byte) float64 {
	s := strings.TrimSpace(string(b))
	for end := len(s); end > 0; end-- {
		if v, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return v
		}
	}
	return math.Inf(-1)
}

var months = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

func monthVal(b []byte) int {
	s := strings.ToUpper(strings.TrimLeft(string(b), " \t"))
	for i, m := range months {
		if strings.HasPrefix(s, m) {
			return i + 1
		}
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// versionCmp compares like sort -V / strverscmp: digit runs numerically.
func versionCmp(a, b []byte) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		da, db := isDigit(a[i]), isDigit(b[j])
		switch {
		case da && db:
			si := i
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			sj := j
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(string(a[si:i]), "0")
			nb := strings.TrimLeft(string(b[sj:j]), "0")
			if len(na) != len(nb) {
				return cmpFloat(float64(len(na)), float64(len(nb)))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
		default:
			if a[i] != b[j] {
				// Letters before other characters, like dpkg's order.
				return cmpFloat(float64(verOrder(a[i])), float64(verOrder(b[j])))
			}
			i++
			j++
		}
	}
	return cmpFloat(float64(len(a)-i), float64(len(b)-j))
}

func verOrder(c byte) int {
	switch {
	case c == '~':
		return -1
	case isDigit(c):
		return 0
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	}
	return int(c) + 256
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func foldDict(b []byte, k *sortKey) []byte {
	if !k.fold && !k.dict {
		return b
	}
	r := make([]byte, 0, len(b))
	for _, ch := range b {
		if k.dict && !(isBlank(ch) || isDigit(ch) || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
			continue
		}
		if k.fold && ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		r = append(r, ch)
	}
	return r
}

func (s *sorter) cmpKey(a, b []byte, k *sortKey) int {
	var r int
	switch {
	case k.numeric:
		r = cmpFloat(numVal(a), numVal(b))
	case k.human:
		ma, va := humanVal(a)
		mb, vb := humanVal(b)
		r = cmpFloat(float64(ma), float64(mb))
		if r == 0 {
			r = cmpFloat(va, vb)
		}
	case k.general:
		r = cmpFloat(generalVal(a), generalVal(b))
	case k.month:
		r = cmpFloat(float64(monthVal(a)), float64(monthVal(b)))
	case k.version:
		r = versionCmp(a, b)
	default:
		r = bytes.Compare(foldDict(a, k), foldDict(b, k))
	}
	if k.reverse {
		r = -r
	}
	return r
}

// compare orders two lines by the keys; with lastResort, equal keys fall
// back to comparing whole lines bytewise.
func (s *sorter) compare(a, b []byte, lastResort bool) int {
	for _, k := range s.keys {
		ka, kb := a, b
		if k.f1 > 0 {
			ka, kb = s.extract(a, k), s.extract(b, k)
		} else if k.blanks {
			ka, kb = bytes.TrimLeft(a, " \t"), bytes.TrimLeft(b, " \t")
		}
		if r := s.cmpKey(ka, kb, k); r != 0 {
			return r
		}
	}
	if !lastResort {
		return 0
	}
	r := bytes.Compare(a, b)
	if s.global.reverse {
		r = -r
	}
	return r
}

func sortApplet(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "nrufhgVMbdk:t:o:scCzST:", usage: 2, long: map[string]string{
		"numeric-sort": "n", "reverse": "r", "unique": "u", "ignore-case": "f", "human-numeric-sort": "h",
		"general-numeric-sort": "g", "version-sort": "V", "month-sort": "M", "ignore-leading-blanks": "b",
		"dictionary-order": "d", "key=": "k", "field-separator=": "t", "output=": "o", "stable": "s",
		"check?": "c", "zero-terminated": "z", "buffer-size=": "S", "temporary-directory=": "T",
		"parallel=": "parallel"}}, args[1:])
	if !ok {
		return code
	}
	s := &sorter{unique: o.has("u"), stable: o.has("s")}
	for _, f := range []string{"n", "r", "f", "h", "g", "V", "M", "b", "d"} {
		if o.has(f) {
			s.global.setFlags(f)
		}
	}
	if t, ok := o.val("t"); ok {
		if t == `\0` {
			t = "\x00"
		}
		if len(t) != 1 {
			return c.fail(2, "multi-character tab '%s'", t)
		}
		s.tab = t[0]
	}
	for _, kd := range o.all("k") {
		k, err := parseKeyDef(kd)
		if err != nil {
			return c.fail(2, "%s", err)
		}
		if !k.hasFlags() {
			// A key without its own options takes the global ones.
			f1, c1, f2, c2 := k.f1, k.c1, k.f2, k.c2
			*k = s.global
			k.f1, k.c1, k.f2, k.c2 = f1, c1, f2, c2
		}
		s.keys = append(s.keys, k)
	}
	if len(s.keys) == 0 {
		g := s.global
		s.keys = []*sortKey{&g}
	}
	sep := byte('\n')
	if o.has("z") {
		sep = 0
	}
	var lines [][]byte
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		rc, err := c.open(name)
		if err != nil {
			return c.fail(2, "cannot read: %s: %s", name, errText(err))
		}
		data, err := io.ReadAll(contextReader{c.ctx, rc})
		rc.Close()
		if err != nil {
			return c.fail(2, "%s: %s", name, errText(err))
		}
		if len(data) == 0 {
			continue
		}
		if data[len(data)-1] == sep {
			data = data[:len(data)-1]
		}
		lines = append(lines, bytes.Split(data, []byte{sep})...)
	}
	lastResort := !s.unique && !s.stable
	if o.has("c") || o.has("C") {
		for i := 1; i < len(lines); i++ {
			r := s.compare(lines[i-1], lines[i], lastResort)
			if r > 0 || (s.unique && r == 0) {
				if !o.has("C") && o.str("c", "") != "quiet" && o.str("c", "") != "silent" {
					c.warnf("%s:%d: disorder: %s", files[0], i+1, lines[i])
				}
				return c.finish(1)
			}
		}
		return c.finish(0)
	}
	sort.SliceStable(lines, func(i, j int) bool { return s.compare(lines[i], lines[j], lastResort) < 0 })
	if out, ok := o.val("o"); ok && out != "-" {
		f, err := os.Create(c.abs(out))
		if err != nil {
			return c.fail(2, "open failed: %s: %s", out, errText(err))
		}
		defer f.Close()
		c.out.Reset(f)
	}
	for i, l := range lines {
		if c.broken() {
			break
		}
		if s.unique && i > 0 && s.compare(lines[i-1], l, false) == 0 {
			continue
		}
		c.out.Write(l)
		c.out.WriteByte(sep)
	}
	return c.done()
}
