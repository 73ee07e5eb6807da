package applets

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func init() {
	register("ls", ls)
}

type lsEntry struct {
	name   string // as shown
	full   string // absolute path
	fi     fs.FileInfo
	target string // symlink target
	tfi    fs.FileInfo
}

type lsOpts struct {
	long, all, almost, dirSelf, recursive, human, classify, slash bool
	sortBy                                                        byte // 'n' name, 't' time, 'S' size, 'U' none, 'X' extension, 'v' version
	reverse, numeric, noOwner, noGroup, inode, blocks, derefAll   bool
	format                                                        byte // '1', 'C', 'x', 'm', 'l'
	width                                                         int
	now                                                           time.Time
	loc                                                           *time.Location
	fullTime                                                      bool
}

func ls(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "lLaAdRhFptrSU1CxmnogisfHcuvXw:T:", usage: 2, long: map[string]string{
		"all": "a", "almost-all": "A", "directory": "d", "recursive": "R", "human-readable": "h",
		"classify?": "F", "dereference": "L", "reverse": "r", "numeric-uid-gid": "n", "inode": "i",
		"size": "s", "color?": "color", "colour?": "color", "full-time": "full-time",
		"group-directories-first": "gdf", "time-style=": "time-style", "sort=": "sort",
		"indicator-style=": "indicator", "width=": "w", "dereference-command-line": "H", "tabsize=": "T",
		"hide=": "hide", "ignore=": "ignore"}}, args[1:])
	if !ok {
		return code
	}
	lo := &lsOpts{sortBy: 'n', format: '1', width: 80, now: time.Now(), loc: c.zone()}
	if w, err := strconv.Atoi(env.Getenv("COLUMNS")); err == nil && w > 0 {
		lo.width = w
	}
	if w, ok := o.val("w"); ok {
		if n, err := strconv.Atoi(w); err == nil {
			lo.width = n
		}
	}
	for _, x := range o.list {
		switch x.key {
		case "l", "n", "o", "g", "full-time":
			lo.format = 'l'
		case "1", "C", "x", "m":
			lo.format = x.key[0]
		case "t", "S", "U", "X", "v":
			lo.sortBy = x.key[0]
		case "f":
			lo.sortBy = 'U'
			lo.all = true
		case "sort":
			switch x.arg {
			case "none":
				lo.sortBy = 'U'
			case "time":
				lo.sortBy = 't'
			case "size":
				lo.sortBy = 'S'
			case "extension":
				lo.sortBy = 'X'
			case "version":
				lo.sortBy = 'v'
			default:
				lo.sortBy = 'n'
			}
		case "a":
			lo.all = true
		case "A":
			lo.almost = true
		}
	}
	lo.long = lo.format == 'l'
	lo.dirSelf, lo.recursive, lo.human = o.has("d"), o.has("R"), o.has("h")
	lo.classify = o.has("F") && o.str("F", "always") != "never"
	lo.slash = o.has("p") || o.str("indicator", "") == "slash"
	if ind := o.str("indicator", ""); ind == "classify" || ind == "file-type" {
		lo.classify = true
	}
	lo.reverse, lo.numeric, lo.inode, lo.blocks = o.has("r"), o.has("n"), o.has("i"), o.has("s")
	lo.noOwner, lo.noGroup = o.has("g"), o.has("o")
	lo.derefAll = o.has("L")
	lo.fullTime = o.has("full-time")
	hides := o.all("ignore")
	if !lo.all && !lo.almost {
		hides = append(hides, o.all("hide")...)
	}
	l := &lister{c: c, o: lo, hides: hides}

	status := 0
	if len(operands) == 0 {
		operands = []string{"."}
	}
	var files, dirs []*lsEntry
	for _, name := range operands {
		full := c.abs(name)
		fi, err := Lstat(full)
		if err != nil {
			c.warnf("cannot access '%s': %s", name, errText(err))
			status = 2
			continue
		}
		e := &lsEntry{name: name, full: full, fi: fi}
		l.resolveLink(e)
		// Symlinks to directories on the command line are followed
		// unless -l, -d or -F describe the link itself.
		isDir := fi.IsDir()
		if fi.Mode()&fs.ModeSymlink != 0 && e.tfi != nil && e.tfi.IsDir() &&
			(lo.derefAll || o.has("H") || (!lo.long && !lo.classify && !lo.dirSelf)) {
			isDir = true
			e.fi = e.tfi
		}
		if lo.derefAll && e.tfi != nil {
			e.fi = e.tfi
		}
		if isDir && !lo.dirSelf {
			dirs = append(dirs, e)
		} else {
			files = append(files, e)
		}
	}
	l.sort(files)
	l.sort(dirs)
	if len(files) > 0 {
		l.print(files, false)
	}
	showHeader := len(files) > 0 || len(dirs) > 1 || lo.recursive || status != 0
	for i, d := range dirs {
		if c.broken() {
			break
		}
		if len(files) > 0 || i > 0 {
			c.out.WriteString("\n")
		}
		if l.listDir(d.name, d.full, showHeader) {
			status = max(status, 2)
		}
	}
	if l.status > status {
		status = l.status
	}
	return c.finish(status)
}

type lister struct {
	names  nameCache
	c      *cmd
	o      *lsOpts
	hides  []string
	status int
}

func (l *lister) resolveLink(e *lsEntry) {
	if e.fi.Mode()&fs.ModeSymlink == 0 {
		return
	}
	e.target, _ = os.Readlink(e.full)
	if tfi, err := Stat(e.full); err == nil {
		e.tfi = tfi
	}
}

// listDir lists one directory (and, with -R, those under it); it reports
// whether the directory itself could not be read.
func (l *lister) listDir(name, full string, header bool) bool {
	c := l.c
	if header {
		c.out.WriteString(name + ":\n")
	}
	ents, err := os.ReadDir(full)
	if err != nil {
		c.warnf("cannot open directory '%s': %s", name, errText(err))
		return true
	}
	var list []*lsEntry
	if l.o.all {
		for _, dot := range []string{".", ".."} {
			if fi, err := Stat(filepath.Join(full, dot)); err == nil {
				list = append(list, &lsEntry{name: dot, full: filepath.Join(full, dot), fi: fi})
			}
		}
	}
	for _, de := range ents {
		n := de.Name()
		if strings.HasPrefix(n, ".") && !l.o.all && !l.o.almost {
			continue
		}
		if globAny(l.hides, n) {
			continue
		}
		cf := filepath.Join(full, n)
		fi, err := Lstat(cf)
		if err != nil {
			c.warnf("cannot access '%s': %s", joinShown(name, n), errText(err))
			l.status = 1
			continue
		}
		e := &lsEntry{name: n, full: cf, fi: fi}
		l.resolveLink(e)
		if l.o.derefAll && e.tfi != nil {
			e.fi = e.tfi
		}
		list = append(list, e)
	}
	l.sort(list)
	if l.o.long || l.o.blocks {
		var total int64
		for _, e := range list {
			total += blocks1K(e.fi)
		}
		if l.o.human {
			c.out.WriteString("total " + humanSize(total*1024) + "\n")
		} else {
			c.out.WriteString("total " + strconv.FormatInt(total, 10) + "\n")
		}
	}
	l.print(list, true)
	if l.o.recursive {
		for _, e := range list {
			if c.broken() {
				return false
			}
			if !e.fi.IsDir() || e.name == "." || e.name == ".." || e.fi.Mode()&fs.ModeSymlink != 0 {
				continue
			}
			if l.o.derefAll {
				if lfi, err := os.Lstat(e.full); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
					continue
				}
			}
			c.out.WriteString("\n")
			if l.listDir(joinShown(name, e.name), e.full, true) {
				l.status = max(l.status, 1)
			}
		}
	}
	return false
}

func (l *lister) sort(list []*lsEntry) {
	o := l.o
	if o.sortBy == 'U' {
		return
	}
	less := func(a, b *lsEntry) bool {
		switch o.sortBy {
		case 't':
			if !a.fi.ModTime().Equal(b.fi.ModTime()) {
				return a.fi.ModTime().After(b.fi.ModTime())
			}
		case 'S':
			if a.fi.Size() != b.fi.Size() {
				return a.fi.Size() > b.fi.Size()
			}
		case 'X':
			ea, eb := filepath.Ext(a.name), filepath.Ext(b.name)
			if ea != eb {
				return ea < eb
			}
		case 'v':
			if r := versionCmp([]byte(a.name), []byte(b.name)); r != 0 {
				return r < 0
			}
		}
		return a.name < b.name
	}
	sort.SliceStable(list, func(i, j int) bool {
		if o.reverse {
			return less(list[j], list[i])
		}
		return less(list[i], list[j])
	})
}

// indicator is the -F / -p suffix of an entry.
func (l *lister) indicator(e *lsEntry) string {
	m := e.fi.Mode()
	switch {
	case !l.o.classify && !l.o.slash:
		return ""
	case m.IsDir():
		return "/"
	case !l.o.classify:
		return ""
	case m&fs.ModeSymlink != 0:
		if l.o.long {
			return ""
		}
		return "@"
	case m&fs.ModeNamedPipe != 0:
		return "|"
	case m&fs.ModeSocket != 0:
		return "="
	case m.IsRegular() && m.Perm()&0o111 != 0:
		return "*"
	}
	return ""
}

func (l *lister) print(list []*lsEntry, inDir bool) {
	c := l.c
	o := l.o
	if !o.long {
		names := make([]string, len(list))
		for i, e := range list {
			prefix := ""
			if o.inode {
				prefix += strconv.FormatUint(sysInfo(e.fi).ino, 10) + " "
			}
			if o.blocks {
				prefix += l.blockStr(e) + " "
			}
			names[i] = prefix + e.name + l.indicator(e)
		}
		switch o.format {
		case 'C', 'x':
			c.out.WriteString(columns(names, o.width, o.format == 'x'))
		case 'm':
			line := strings.Join(names, ", ")
			if line != "" {
				c.out.WriteString(line + "\n")
			}
		default:
			for _, n := range names {
				c.out.WriteString(n + "\n")
			}
		}
		return
	}
	// Long format: columns aligned over the whole listing.
	type row struct {
		inode, blocks, mode, links, owner, group, size, date, name string
	}
	rows := make([]row, len(list))
	var w row
	wl := func(s string, cur *string) {
		if len(s) > len(*cur) {
			*cur = strings.Repeat(" ", len(s))
		}
	}
	for i, e := range list {
		st := sysInfo(e.fi)
		r := row{mode: modeString(e.fi.Mode()), links: strconv.FormatUint(st.nlink, 10)}
		if o.inode {
			r.inode = strconv.FormatUint(st.ino, 10)
		}
		if o.blocks {
			r.blocks = l.blockStr(e)
		}
		if o.numeric {
			r.owner, r.group = strconv.FormatUint(uint64(st.uid), 10), strconv.FormatUint(uint64(st.gid), 10)
		} else {
			r.owner, r.group = l.names.user(st.uid), l.names.group(st.gid)
		}
		if o.human {
			r.size = humanSize(e.fi.Size())
		} else {
			r.size = strconv.FormatInt(e.fi.Size(), 10)
		}
		r.date = l.date(e.fi.ModTime())
		r.name = e.name + l.indicator(e)
		if e.fi.Mode()&fs.ModeSymlink != 0 {
			r.name += " -> " + e.target
			if o.classify && e.tfi != nil {
				r.name += l.indicator(&lsEntry{fi: e.tfi})
			}
		}
		rows[i] = r
		wl(r.inode, &w.inode)
		wl(r.blocks, &w.blocks)
		wl(r.links, &w.links)
		wl(r.owner, &w.owner)
		wl(r.group, &w.group)
		wl(r.size, &w.size)
	}
	pad := func(s, width string, left bool) string {
		if len(s) >= len(width) {
			return s
		}
		if left {
			return s + width[:len(width)-len(s)]
		}
		return width[:len(width)-len(s)] + s
	}
	for _, r := range rows {
		var b strings.Builder
		if o.inode {
			b.WriteString(pad(r.inode, w.inode, false) + " ")
		}
		if o.blocks {
			b.WriteString(pad(r.blocks, w.blocks, false) + " ")
		}
		b.WriteString(r.mode + " " + pad(r.links, w.links, false) + " ")
		if !o.noOwner {
			b.WriteString(pad(r.owner, w.owner, true) + " ")
		}
		if !o.noGroup {
			b.WriteString(pad(r.group, w.group, true) + " ")
		}
		b.WriteString(pad(r.size, w.size, false) + " " + r.date + " " + r.name + "\n")
		c.out.WriteString(b.String())
	}
}

func (l *lister) blockStr(e *lsEntry) string {
	if l.o.human {
		return humanSize(blocks1K(e.fi) * 1024)
	}
	return strconv.FormatInt(blocks1K(e.fi), 10)
}

// date is ls -l's time column: "Mar  5 07:08" for the last six months,
// "Mar  5  2023" otherwise.
func (l *lister) date(t time.Time) string {
	t = t.In(l.o.loc)
	if l.o.fullTime {
		return t.Format("2006-01-02 15:04:05.000000000 -0700")
	}
	const halfYear = 15778476 * time.Second
	if t.After(l.o.now.Add(-halfYear)) && !t.After(l.o.now.Add(time.Minute)) {
		return strftime("%b %e %H:%M", t)
	}
	return strftime("%b %e  %Y", t)
}

// humanSize formats a size like ls -h and du -h: 999, 1.0K, 12K, 1.5M
// (powers of 1024, rounded up).
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	v := float64(n)
	units := "KMGTPE"
	i := -1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 10 {
		r := math.Ceil(v*10) / 10
		if r < 10 {
			return fmt.Sprintf("%.1f%c", r, units[i])
		}
		v = r
	}
	r := math.Ceil(v)
	if r >= 1024 && i < len(units)-1 {
		return fmt.Sprintf("%.1f%c", 1.0, units[i+1])
	}
	return fmt.Sprintf("%.0f%c", r, units[i])
}

// columns lays names out like ls -C (down columns) or -x (across) in
// width characters.
func columns(names []string, width int, across bool) string {
	if len(names) == 0 {
		return ""
	}
	lens := make([]int, len(names))
	for i, n := range names {
		lens[i] = utf8.RuneCountInString(n)
	}
	best := 1
	var bestW []int
	for cols := len(names); cols >= 1; cols-- {
		rows := (len(names) + cols - 1) / cols
		if !across {
			cols = (len(names) + rows - 1) / rows
		}
		ws := make([]int, cols)
		for i := range names {
			col := i / rows
			if across {
				col = i % cols
			}
			ws[col] = max(ws[col], lens[i])
		}
		total := 0
		for j, w := range ws {
			total += w
			if j < len(ws)-1 {
				total += 2
			}
		}
		if total < width || cols == 1 {
			best, bestW = cols, ws
			break
		}
	}
	rows := (len(names) + best - 1) / best
	var b strings.Builder
	for r := 0; r < rows; r++ {
		pos := 0
		for col := 0; col < best; col++ {
			i := col*rows + r
			if across {
				i = r*best + col
			}
			if i >= len(names) {
				continue
			}
			b.WriteString(names[i])
			next := (col+1)*rows + r
			if across {
				next = r*best + col + 1
			}
			if col < best-1 && next < len(names) {
				// Pad with tabs where they fit, like GNU ls.
				from, to := pos+lens[i], pos+bestW[col]+2
				for from < to {
					if to/8 > (from+1)/8 {
						b.WriteByte('\t')
						from += 8 - from%8
					} else {
						b.WriteByte(' ')
						from++
					}
				}
				pos = to
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
