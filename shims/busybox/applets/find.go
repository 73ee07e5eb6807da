package applets

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func init() {
	register("find", find)
}

// findItem is the file being looked at.
type findItem struct {
	path  string // as printed
	full  string // absolute
	start string // the starting point it was found under
	depth int
	fi    fs.FileInfo
	prune bool
}

type findExpr func(it *findItem) bool

type finder struct {
	names              nameCache
	c                  *cmd
	follow             byte // 'P', 'L', 'H'
	maxDepth, minDepth int
	depthFirst         bool
	quit               bool
	now                time.Time
	batches            []*execBatch
	hasAction          bool
	tokens             []string
	pos                int
	regexType          string
}

type execBatch struct {
	argv  []string // with "{}" where the paths go
	paths []string
	size  int
	dir   string
}

func find(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	f := &finder{c: c, follow: 'P', maxDepth: -1, now: time.Now()}
	a := args[1:]
	// Options before the paths.
	for len(a) > 0 {
		switch a[0] {
		case "-L", "-H", "-P":
			f.follow = a[0][1]
			a = a[1:]
			continue
		case "-O0", "-O1", "-O2", "-O3":
			a = a[1:]
			continue
		}
		break
	}
	var paths []string
	for len(a) > 0 && !(strings.HasPrefix(a[0], "-") && len(a[0]) > 1) && a[0] != "!" && a[0] != "(" {
		paths = append(paths, a[0])
		a = a[1:]
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	f.tokens = a
	var expr findExpr
	if len(a) > 0 {
		var err error
		expr, err = f.parseList()
		if err == nil && f.pos < len(f.tokens) {
			err = fmt.Errorf("unexpected `%s'", f.tokens[f.pos])
			if f.tokens[f.pos] == ")" {
				err = fmt.Errorf("invalid expression; you have too many ')'")
			}
		}
		if err != nil {
			return c.fail(1, "%s", err)
		}
	}
	if !f.hasAction {
		inner := expr
		expr = func(it *findItem) bool {
			if inner == nil || inner(it) {
				f.print(it.path, "\n")
			}
			return true
		}
	}
	for _, p := range paths {
		if f.quit || c.broken() {
			break
		}
		full := c.abs(p)
		stat := Lstat
		if f.follow != 'P' {
			stat = Stat
		}
		fi, err := stat(full)
		if err != nil && f.follow != 'P' {
			fi, err = Lstat(full)
		}
		if err != nil {
			c.errorf("'%s': %s", p, errText(err))
			continue
		}
		f.walk(&findItem{path: p, full: full, start: p, fi: fi}, expr, nil)
	}
	for _, b := range f.batches {
		f.runBatch(b)
	}
	return c.done()
}

func (f *finder) print(s, end string) {
	f.c.out.WriteString(s)
	f.c.out.WriteString(end)
}

// walk visits it and, for directories, what is under it.
func (f *finder) walk(it *findItem, expr findExpr, ancestors []fs.FileInfo) {
	if f.quit || f.c.broken() {
		return
	}
	visit := it.depth >= f.minDepth
	if visit && !f.depthFirst {
		expr(it)
	}
	if it.fi.IsDir() && !it.prune && !f.quit && (f.maxDepth < 0 || it.depth < f.maxDepth) {
		for _, a := range ancestors {
			if os.SameFile(a, it.fi) {
				f.c.errorf("File system loop detected; '%s' is part of the same file system loop as '%s'.", it.path, it.start)
				return
			}
		}
		ents, err := os.ReadDir(it.full)
		if err != nil {
			f.c.errorf("'%s': %s", it.path, errText(err))
		}
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		var anc []fs.FileInfo
		if f.follow == 'L' {
			if st, err := os.Stat(it.full); err == nil {
				anc = append(append(anc, ancestors...), st)
			}
		}
		for _, n := range names {
			if f.quit || f.c.broken() {
				break
			}
			child := joinShown(it.path, n)
			cfull := filepath.Join(it.full, n)
			fi, err := Lstat(cfull)
			if err == nil && f.follow == 'L' && fi.Mode()&fs.ModeSymlink != 0 {
				if st, serr := Stat(cfull); serr == nil {
					fi = st
				}
			}
			if err != nil {
				f.c.errorf("'%s': %s", child, errText(err))
				continue
			}
			f.walk(&findItem{path: child, full: cfull, start: it.start, depth: it.depth + 1, fi: fi}, expr, anc)
		}
	}
	if visit && f.depthFirst && !f.quit {
		expr(it)
	}
}

// Parsing: list := or {"," or}; or := and {-o and}; and := not {[-a] not};
// not := ("!"|-not) not | primary.

func (f *finder) peek() string {
	if f.pos < len(f.tokens) {
		return f.tokens[f.pos]
	}
	return ""
}

func (f *finder) parseList() (findExpr, error) {
	e, err := f.parseOr()
	if err != nil {
		return nil, err
	}
	for f.peek() == "," {
		f.pos++
		r, err := f.parseOr()
		if err != nil {
			return nil, err
		}
		l := e
		e = func(it *findItem) bool { l(it); return r(it) }
	}
	return e, nil
}

func (f *finder) parseOr() (findExpr, error) {
	e, err := f.parseAnd()
	if err != nil {
		return nil, err
	}
	for f.peek() == "-o" || f.peek() == "-or" {
		f.pos++
		if f.pos >= len(f.tokens) {
			return nil, fmt.Errorf("invalid expression; you have used a binary operator '-o' with nothing after it.")
		}
		r, err := f.parseAnd()
		if err != nil {
			return nil, err
		}
		l := e
		e = func(it *findItem) bool { return l(it) || r(it) }
	}
	return e, nil
}

func (f *finder) parseAnd() (findExpr, error) {
	e, err := f.parseNot()
	if err != nil {
		return nil, err
	}
	for {
		t := f.peek()
		if t == "" || t == "-o" || t == "-or" || t == ")" || t == "," {
			return e, nil
		}
		if t == "-a" || t == "-and" {
			f.pos++
			if f.pos >= len(f.tokens) {
				return nil, fmt.Errorf("invalid expression; you have used a binary operator '%s' with nothing after it.", t)
			}
		}
		r, err := f.parseNot()
		if err != nil {
			return nil, err
		}
		l := e
		e = func(it *findItem) bool { return l(it) && r(it) }
	}
}

func (f *finder) parseNot() (findExpr, error) {
	if t := f.peek(); t == "!" || t == "-not" {
		f.pos++
		if f.pos >= len(f.tokens) {
			return nil, fmt.Errorf("invalid expression; you have used a unary operator '%s' with nothing after it.", t)
		}
		e, err := f.parseNot()
		if err != nil {
			return nil, err
		}
		return func(it *findItem) bool { return !e(it) }, nil
	}
	return f.parsePrimary()
}

func (f *finder) arg(name string) (string, error) {
	if f.pos >= len(f.tokens) {
		return "", fmt.Errorf("missing argument to `%s'", name)
	}
	f.pos++
	return f.tokens[f.pos-1], nil
}

// numArg parses [+-]N: cmp is -1 (less), 0 (exactly), 1 (more).
func numArg(s string) (cmp int, n int64, suffix string, ok bool) {
	switch {
	case strings.HasPrefix(s, "+"):
		cmp, s = 1, s[1:]
	case strings.HasPrefix(s, "-"):
		cmp, s = -1, s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, 0, "", false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	return cmp, n, s[i:], err == nil
}

func cmpNum(cmp int, v, n int64) bool {
	switch cmp {
	case 1:
		return v > n
	case -1:
		return v < n
	}
	return v == n
}

func (f *finder) parsePrimary() (findExpr, error) {
	t := f.peek()
	if t == "" {
		if f.pos > 0 && f.tokens[f.pos-1] == "(" {
			return nil, fmt.Errorf("invalid expression; expected to find a ')' but didn't see one. Perhaps you need an extra predicate after '('")
		}
		return nil, fmt.Errorf("invalid expression")
	}
	f.pos++
	c := f.c
	switch t {
	case "(":
		e, err := f.parseList()
		if err != nil {
			return nil, err
		}
		if f.peek() != ")" {
			return nil, fmt.Errorf("invalid expression; I was expecting to find a ')' somewhere but did not see one.")
		}
		f.pos++
		return e, nil
	case ")":
		return nil, fmt.Errorf("invalid expression; you have too many ')'")
	case "-true":
		return func(*findItem) bool { return true }, nil
	case "-false":
		return func(*findItem) bool { return false }, nil
	case "-print":
		f.hasAction = true
		return func(it *findItem) bool { f.print(it.path, "\n"); return true }, nil
	case "-print0":
		f.hasAction = true
		return func(it *findItem) bool { f.print(it.path, "\x00"); return true }, nil
	case "-printf":
		f.hasAction = true
		format, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		return func(it *findItem) bool { c.out.WriteString(f.printf(format, it)); return true }, nil
	case "-ls":
		f.hasAction = true
		return func(it *findItem) bool {
			c.out.WriteString(f.printf("%i %k %M %n %u %g %s %Tb %Td %TH:%TM %p\n", it))
			return true
		}, nil
	case "-prune":
		return func(it *findItem) bool { it.prune = true; return true }, nil
	case "-quit":
		f.hasAction = true
		return func(*findItem) bool { f.quit = true; return true }, nil
	case "-depth", "-d":
		f.depthFirst = true
		return func(*findItem) bool { return true }, nil
	case "-xdev", "-mount", "-noleaf", "-ignore_readdir_race", "-daystart", "-nowarn", "-warn":
		return func(*findItem) bool { return true }, nil
	case "-follow":
		f.follow = 'L'
		return func(*findItem) bool { return true }, nil
	case "-maxdepth", "-mindepth":
		v, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("Expected a positive decimal integer argument to %s, but got '%s'", t, v)
		}
		if t == "-maxdepth" {
			f.maxDepth = n
		} else {
			f.minDepth = n
		}
		return func(*findItem) bool { return true }, nil
	case "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-lname", "-ilname":
		pat, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		fold := strings.HasPrefix(t, "-i")
		switch strings.TrimPrefix(t, "-i") {
		case "name", "-name":
			return func(it *findItem) bool {
				b := baseName(it.path)
				return fnmatch(pat, b, false, fold)
			}, nil
		case "lname", "-lname":
			return func(it *findItem) bool {
				if it.fi.Mode()&fs.ModeSymlink == 0 {
					return false
				}
				l, err := os.Readlink(it.full)
				return err == nil && fnmatch(pat, l, false, fold)
			}, nil
		}
		return func(it *findItem) bool { return fnmatch(pat, it.path, false, fold) }, nil
	case "-regex", "-iregex":
		pat, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		ere := false
		switch f.regexType {
		case "posix-extended", "egrep", "posix-egrep", "posix-awk", "awk", "gnu-awk":
			ere = true
		case "posix-basic", "grep", "sed", "ed":
		default:
			// Emacs syntax: BRE with + and ? as operators.
			pat = emacsToBRE(pat)
		}
		tr, err := translateRE(pat, ere)
		if err == nil {
			prefix := ""
			if t == "-iregex" {
				prefix = "(?i)"
			}
			var re *regexp.Regexp
			re, err = regexp.Compile(prefix + "^(?:" + tr + ")$")
			if err == nil {
				return func(it *findItem) bool { return re.MatchString(it.path) }, nil
			}
		}
		return nil, fmt.Errorf("invalid regular expression '%s': %s", pat, err)
	case "-regextype":
		v, err := f.arg(t)
		f.regexType = v
		return func(*findItem) bool { return true }, err
	case "-type", "-xtype":
		v, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		want := map[byte]bool{}
		for _, part := range strings.Split(v, ",") {
			if len(part) != 1 || strings.IndexByte("fdlpsbcD", part[0]) < 0 {
				return nil, fmt.Errorf("Unknown argument to %s: %s", t, v)
			}
			want[part[0]] = true
		}
		return func(it *findItem) bool {
			fi := it.fi
			if t == "-xtype" {
				if st, err := os.Stat(it.full); err == nil {
					fi = st
				}
			}
			tc := typeChar(fi.Mode())
			if tc == '-' {
				tc = 'f'
			}
			return want[tc]
		}, nil
	case "-empty":
		return func(it *findItem) bool {
			if it.fi.IsDir() {
				ents, err := os.ReadDir(it.full)
				return err == nil && len(ents) == 0
			}
			return it.fi.Mode().IsRegular() && it.fi.Size() == 0
		}, nil
	case "-size":
		v, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		cmp, n, suf, ok := numArg(v)
		unit := int64(512)
		switch suf {
		case "":
		case "b":
		case "c":
			unit = 1
		case "w":
			unit = 2
		case "k":
			unit = 1024
		case "M":
			unit = 1 << 20
		case "G":
			unit = 1 << 30
		default:
			ok = false
		}
		if !ok {
			return nil, fmt.Errorf("invalid -size type `%s'", v)
		}
		return func(it *findItem) bool {
			sz := (it.fi.Size() + unit - 1) / unit
			return cmpNum(cmp, sz, n)
		}, nil
	case "-mtime", "-atime", "-ctime", "-mmin", "-amin", "-cmin":
		v, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		cmp, n, suf, ok := numArg(v)
		if !ok || suf != "" {
			return nil, fmt.Errorf("invalid argument `%s' to `%s'", v, t)
		}
		unit := 24 * time.Hour
		if strings.HasSuffix(t, "min") {
			unit = time.Minute
		}
		// The box keeps one time per file: access and change times are
		// the modification time.
		return func(it *findItem) bool {
			age := f.now.Sub(it.fi.ModTime())
			if unit == time.Minute {
				units := int64((age + unit - 1) / unit)
				return cmpNum(cmp, units, n)
			}
			return cmpNum(cmp, int64(age/unit), n)
		}, nil
	case "-newer", "-anewer", "-cnewer", "-newermm":
		ref, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		rfi, err := Stat(c.abs(ref))
		if err != nil {
			return nil, fmt.Errorf("'%s': %s", ref, errText(err))
		}
		return func(it *findItem) bool { return it.fi.ModTime().After(rfi.ModTime()) }, nil
	case "-perm":
		v, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		mode := 0
		spec := v
		if strings.HasPrefix(v, "-") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "+") {
			mode, spec = int(v[0]), v[1:]
		}
		bits, err := parseMode(spec, 0, false)
		if err != nil {
			return nil, fmt.Errorf("invalid mode `%s'", v)
		}
		return func(it *findItem) bool {
			fi := it.fi
			if fi.Mode()&fs.ModeSymlink != 0 {
				if st, err := Stat(it.full); err == nil && f.follow != 'P' {
					fi = st
				}
			}
			m := unixMode(fi.Mode())
			switch mode {
			case '-':
				return m&bits == bits
			case '/', '+':
				return bits == 0 || m&bits != 0
			}
			return m == bits
		}, nil
	case "-user", "-group", "-uid", "-gid":
		v, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		var id uint32
		var found bool
		if t == "-user" || t == "-uid" {
			id, _, found = lookupUser(v)
		} else {
			id, found = lookupGroup(v)
		}
		if !found {
			return nil, fmt.Errorf("'%s' is not the name of a known %s", v, strings.TrimPrefix(t, "-"))
		}
		return func(it *findItem) bool {
			st := sysInfo(it.fi)
			if t == "-user" || t == "-uid" {
				return st.uid == id
			}
			return st.gid == id
		}, nil
	case "-nouser", "-nogroup":
		return func(*findItem) bool { return false }, nil
	case "-links", "-inum":
		v, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		cmp, n, suf, ok := numArg(v)
		if !ok || suf != "" {
			return nil, fmt.Errorf("invalid argument `%s' to `%s'", v, t)
		}
		return func(it *findItem) bool {
			st := sysInfo(it.fi)
			if t == "-links" {
				return cmpNum(cmp, int64(st.nlink), n)
			}
			return cmpNum(cmp, int64(st.ino), n)
		}, nil
	case "-samefile":
		ref, err := f.arg(t)
		if err != nil {
			return nil, err
		}
		rfi, err := os.Stat(c.abs(ref))
		if err != nil {
			return nil, fmt.Errorf("'%s': %s", ref, errText(err))
		}
		return func(it *findItem) bool {
			st, err := os.Lstat(it.full)
			return err == nil && os.SameFile(st, rfi)
		}, nil
	case "-readable", "-writable":
		return func(*findItem) bool { return true }, nil
	case "-executable":
		return func(it *findItem) bool {
			fi := it.fi
			if st, err := Stat(it.full); err == nil {
				fi = st
			}
			return fi.IsDir() || fi.Mode().Perm()&0o111 != 0
		}, nil
	case "-delete":
		f.hasAction = true
		f.depthFirst = true
		return func(it *findItem) bool {
			if it.path == "." {
				return true
			}
			err := removeOne(it.full, it.fi.IsDir())
			if err != nil {
				c.errorf("cannot delete '%s': %s", it.path, errText(err))
				return false
			}
			return true
		}, nil
	case "-exec", "-execdir", "-ok", "-okdir":
		f.hasAction = true
		var argv []string
		end := ""
		for f.pos < len(f.tokens) {
			tok := f.tokens[f.pos]
			f.pos++
			if tok == ";" || (tok == "+" && len(argv) > 0 && argv[len(argv)-1] == "{}") {
				end = tok
				break
			}
			argv = append(argv, tok)
		}
		if end == "" || len(argv) == 0 {
			return nil, fmt.Errorf("missing argument to `%s'", t)
		}
		inDir := strings.HasSuffix(t, "dir")
		if end == "+" {
			argv = argv[:len(argv)-1]
			return func(it *findItem) bool {
				p, dir := it.path, c.env.Dir
				if inDir {
					p, dir = "./"+baseName(it.full), filepath.Dir(it.full)
				}
				f.addToBatch(argv, p, dir)
				return true
			}, nil
		}
		return func(it *findItem) bool {
			p, dir := it.path, c.env.Dir
			if inDir {
				p, dir = "./"+baseName(it.full), filepath.Dir(it.full)
			}
			cmdArgs := make([]string, len(argv))
			for i, a := range argv {
				cmdArgs[i] = strings.ReplaceAll(a, "{}", p)
			}
			env := c.subEnv()
			env.Dir = dir
			return c.exec(env, cmdArgs) == 0
		}, nil
	}
	if strings.HasPrefix(t, "-") {
		return nil, fmt.Errorf("unknown predicate `%s'", t)
	}
	return nil, fmt.Errorf("paths must precede expression: `%s'", t)
}

// emacsToBRE turns an Emacs regexp (find's default) into a POSIX basic
// one: only + and ? differ (operators unescaped, literal escaped).
func emacsToBRE(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p) && (p[i+1] == '+' || p[i+1] == '?'):
			b.WriteByte(p[i+1])
			i++
		case p[i] == '\\' && i+1 < len(p):
			b.WriteString(p[i : i+2])
			i++
		case p[i] == '+' || p[i] == '?':
			b.WriteByte('\\')
			b.WriteByte(p[i])
		case p[i] == '[':
			// Copy a bracket expression unchanged.
			n, _, err := bracket(p[i:])
			if err != nil {
				b.WriteByte(p[i])
				continue
			}
			b.WriteString(p[i : i+n])
			i += n - 1
		default:
			b.WriteByte(p[i])
		}
	}
	return b.String()
}

// addToBatch collects a path for -exec ... {} +, running the command when
// the batch is large.
func (f *finder) addToBatch(argv []string, p, dir string) {
	var b *execBatch
	for _, x := range f.batches {
		if &x.argv[0] == &argv[0] && x.dir == dir {
			b = x
			break
		}
	}
	if b == nil {
		b = &execBatch{argv: argv, dir: dir}
		f.batches = append(f.batches, b)
	}
	b.paths = append(b.paths, p)
	b.size += len(p) + 1
	if b.size > 128<<10 || len(b.paths) >= 4096 {
		f.runBatch(b)
	}
}

func (f *finder) runBatch(b *execBatch) {
	if len(b.paths) == 0 {
		return
	}
	args := append(append([]string(nil), b.argv...), b.paths...)
	env := f.c.subEnv()
	env.Dir = b.dir
	if f.c.exec(env, args) != 0 {
		f.c.status = 1
	}
	b.paths, b.size = nil, 0
}

// printf implements -printf's directives.
func (f *finder) printf(format string, it *findItem) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if ch == '\\' && i+1 < len(format) {
			i++
			switch format[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '0':
				b.WriteByte(0)
			case '\\':
				b.WriteByte('\\')
			case 'c':
				return b.String()
			default:
				b.WriteByte('\\')
				b.WriteByte(format[i])
			}
			continue
		}
		if ch != '%' || i+1 >= len(format) {
			b.WriteByte(ch)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ #0123456789.", format[j]) >= 0 {
			j++
		}
		if j >= len(format) {
			b.WriteString(format[i:])
			break
		}
		spec := format[i+1 : j]
		d := format[j]
		i = j
		st := sysInfo(it.fi)
		var s string
		switch d {
		case '%':
			s = "%"
		case 'p':
			s = it.path
		case 'f':
			s = baseName(it.path)
		case 'h':
			s = dirName(it.path)
			if !strings.Contains(strings.TrimRight(it.path, "/"), "/") {
				s = "."
			}
		case 'P':
			s = strings.TrimPrefix(strings.TrimPrefix(it.path, it.start), "/")
		case 'H':
			s = it.start
		case 's':
			s = strconv.FormatInt(it.fi.Size(), 10)
		case 'k':
			s = strconv.FormatInt(blocks1K(it.fi), 10)
		case 'b':
			s = strconv.FormatInt(blocks1K(it.fi)*2, 10)
		case 'm':
			s = strconv.FormatUint(uint64(unixMode(it.fi.Mode())), 8)
		case 'M':
			s = modeString(it.fi.Mode())
		case 'u':
			s = f.names.user(st.uid)
		case 'g':
			s = f.names.group(st.gid)
		case 'U':
			s = strconv.FormatUint(uint64(st.uid), 10)
		case 'G':
			s = strconv.FormatUint(uint64(st.gid), 10)
		case 'n':
			s = strconv.FormatUint(st.nlink, 10)
		case 'i':
			s = strconv.FormatUint(st.ino, 10)
		case 'd':
			s = strconv.Itoa(it.depth)
		case 'y':
			s = string(typeChar(it.fi.Mode()))
			if s == "-" {
				s = "f"
			}
		case 'l':
			if it.fi.Mode()&fs.ModeSymlink != 0 {
				s, _ = os.Readlink(it.full)
			}
		case 't', 'a', 'c':
			s = strftime("%a %b %e %H:%M:%S.%N %Y", it.fi.ModTime().In(f.c.zone()))
			s = s[:20] + "0000000" + s[29:]
		case 'T', 'A', 'C':
			if i+1 < len(format) {
				i++
				k := format[i]
				t := it.fi.ModTime().In(f.c.zone())
				if k == '@' {
					s = fmt.Sprintf("%d.%09d0", t.Unix(), t.Nanosecond())
				} else {
					s = strftime("%"+string(k), t)
				}
			}
		default:
			s = "%" + spec + string(d)
			spec = ""
		}
		if spec != "" {
			s = fmt.Sprintf("%"+strings.Replace(spec, "#", "", 1)+"s", s)
		}
		b.WriteString(s)
	}
	return b.String()
}
