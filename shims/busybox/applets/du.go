package applets

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

func init() {
	register("du", du)
	register("cmp", cmpApplet)
}

type duState struct {
	c        *cmd
	all      bool
	summary  bool
	maxDepth int
	apparent bool
	unit     int64 // bytes per printed unit; 0: human
	seen     map[[2]uint64]bool
	excludes []string
	end      string
}

func du(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "ashkmbcd:xLPHl0B:", long: map[string]string{
		"all": "a", "summarize": "s", "human-readable": "h", "bytes": "b", "total": "c",
		"max-depth=": "d", "one-file-system": "x", "dereference": "L", "apparent-size": "apparent",
		"exclude=": "exclude", "null": "0", "block-size=": "B", "count-links": "l", "si": "si"}}, args[1:])
	if !ok {
		return code
	}
	d := &duState{c: c, all: o.has("a"), summary: o.has("s"), maxDepth: -1, unit: 1024,
		seen: map[[2]uint64]bool{}, excludes: o.all("exclude"), end: "\n"}
	if o.has("0") {
		d.end = "\x00"
	}
	if v, ok := o.val("d"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c.fail(1, "invalid maximum depth '%s'", v)
		}
		d.maxDepth = n
	}
	if d.summary {
		if d.all {
			return c.fail(1, "cannot both summarize and show all entries")
		}
		d.maxDepth = 0
	}
	switch o.last("h", "k", "m", "b", "B") {
	case "h":
		d.unit = 0
	case "m":
		d.unit = 1 << 20
	case "b":
		d.unit, d.apparent = 1, true
	case "B":
		v, _ := o.val("B")
		n, err := parseCount(v)
		if err != nil || n < 1 {
			return c.fail(1, "invalid --block-size argument '%s'", v)
		}
		d.unit = n
	}
	if o.has("apparent") {
		d.apparent = true
	}
	if len(operands) == 0 {
		operands = []string{"."}
	}
	var total int64
	for _, name := range operands {
		full := c.abs(name)
		stat := Lstat
		if o.has("L") || o.has("H") {
			stat = Stat
		}
		fi, err := stat(full)
		if err != nil {
			c.errorf("cannot access '%s': %s", name, errText(err))
			continue
		}
		total += d.walk(name, full, fi, 0)
	}
	if o.has("c") {
		d.print(total, "total")
	}
	return c.done()
}

func (d *duState) size(fi fs.FileInfo) int64 {
	st := sysInfo(fi)
	if !fi.IsDir() && st.nlink > 1 && st.ino != 0 {
		key := [2]uint64{st.dev, st.ino}
		if d.seen[key] {
			return 0
		}
		d.seen[key] = true
	}
	if d.apparent {
		return fi.Size()
	}
	return blocks1K(fi) * 1024
}

func (d *duState) print(n int64, name string) {
	var s string
	switch d.unit {
	case 0:
		s = humanSize(n)
	default:
		s = strconv.FormatInt((n+d.unit-1)/d.unit, 10)
	}
	fmt.Fprintf(d.c.out, "%s\t%s%s", s, name, d.end)
}

// walk returns the usage under name, printing directories (and with -a
// files) within the depth limit.
func (d *duState) walk(name, full string, fi fs.FileInfo, depth int) int64 {
	if globAny(d.excludes, baseName(name)) {
		return 0
	}
	n := d.size(fi)
	if fi.IsDir() {
		ents, err := os.ReadDir(full)
		if err != nil {
			d.c.errorf("cannot read directory '%s': %s", name, errText(err))
		}
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, e := range names {
			cf := filepath.Join(full, e)
			cfi, err := Lstat(cf)
			if err != nil {
				d.c.errorf("cannot access '%s': %s", joinShown(name, e), errText(err))
				continue
			}
			n += d.walk(joinShown(name, e), cf, cfi, depth+1)
		}
	}
	if (fi.IsDir() || d.all || depth == 0) && (d.maxDepth < 0 || depth <= d.maxDepth) {
		d.print(n, name)
	}
	return n
}

func cmpApplet(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "blsn:i:", usage: 2, long: map[string]string{
		"print-bytes": "b", "verbose": "l", "quiet": "s", "silent": "s", "bytes=": "n", "ignore-initial=": "i"}}, args[1:])
	if !ok {
		return code
	}
	if len(files) == 0 {
		return c.fail(2, "missing operand after 'cmp'")
	}
	if len(files) == 1 {
		files = append(files, "-")
	}
	if len(files) > 2 {
		// GNU allows skip counts as operands 3 and 4.
		if len(files) > 4 {
			return c.fail(2, "invalid --ignore-initial value '%s'", files[4])
		}
	}
	limit := int64(-1)
	if v, ok := o.val("n"); ok {
		n, err := parseCount(v)
		if err != nil {
			return c.fail(2, "invalid --bytes value '%s'", v)
		}
		limit = n
	}
	var readers [2]*bufio.Reader
	for i := 0; i < 2; i++ {
		rc, err := c.open(files[i])
		if err != nil {
			return c.fail(2, "%s: %s", files[i], errText(err))
		}
		defer rc.Close()
		readers[i] = bufio.NewReaderSize(rc, 64<<10)
		skip := int64(0)
		if v, ok := o.val("i"); ok {
			s1, s2, _ := cutColon(v)
			if i == 1 && s2 != "" {
				s1 = s2
			}
			skip, _ = parseCount(s1)
		}
		if len(files) > 2+i {
			skip, _ = parseCount(files[2+i])
		}
		io.CopyN(io.Discard, readers[i], skip)
	}
	silent, list := o.has("s"), o.has("l")
	var pos, line int64 = 0, 1
	differ, lastWasNL := false, false
	for limit < 0 || pos < limit {
		a, errA := readers[0].ReadByte()
		b, errB := readers[1].ReadByte()
		if errA != nil || errB != nil {
			if errA != nil && errB != nil {
				break
			}
			short := files[0]
			if errB != nil {
				short = files[1]
			}
			if !silent {
				if pos == 0 {
					c.warnf("EOF on %s which is empty", short)
				} else if list {
					c.warnf("EOF on %s after byte %d", short, pos)
				} else if lastWasNL {
					c.warnf("EOF on %s after byte %d, line %d", short, pos, line-1)
				} else {
					c.warnf("EOF on %s after byte %d, in line %d", short, pos, line)
				}
			}
			return c.finish(1)
		}
		pos++
		if a != b {
			differ = true
			if silent {
				return c.finish(1)
			}
			if !list {
				if o.has("b") {
					fmt.Fprintf(c.out, "%s %s differ: byte %d, line %d is %3o %s %3o %s\n", files[0], files[1], pos, line, a, printable(a), b, printable(b))
				} else {
					fmt.Fprintf(c.out, "%s %s differ: byte %d, line %d\n", files[0], files[1], pos, line)
				}
				return c.finish(1)
			}
			fmt.Fprintf(c.out, "%d %3o %3o\n", pos, a, b)
		}
		lastWasNL = a == '\n'
		if lastWasNL {
			line++
		}
	}
	if differ {
		return c.finish(1)
	}
	return c.done()
}

func cutColon(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// printable is cmp -b's rendering of a byte (like cat -v).
func printable(b byte) string {
	return string(showChars([]byte{b}, false, true))
}
