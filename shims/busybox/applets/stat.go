package applets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func init() {
	register("stat", stat)
	register("readlink", readlink)
	register("realpath", realpath)
	register("mktemp", mktemp)
}

const statDefault = "  File: %N\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\n" +
	"Device: %Hd,%Ld\tInode: %-11i Links: %h\n" +
	"Access: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\n" +
	"Access: %x\nModify: %y\nChange: %z\n Birth: %w\n"

func stat(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "c:Lft", long: map[string]string{
		"format=": "c", "printf=": "printf", "dereference": "L", "file-system": "f", "terse": "t"}}, args[1:])
	if !ok {
		return code
	}
	if len(files) == 0 {
		return c.fail(1, "missing operand")
	}
	if o.has("f") {
		return c.fail(1, "file system status is not available in a box")
	}
	format, newline := statDefault, false
	if f, ok := o.val("c"); ok {
		format, newline = f, true
	}
	if f, ok := o.val("printf"); ok {
		format, _ = unescape(f, escFormat)
	}
	if o.has("t") {
		format, newline = "%n %s %b %f %u %g %D %i %h %t %T %X %Y %Z %W %o", true
	}
	for _, name := range files {
		full := c.abs(name)
		var fi fs.FileInfo
		var err error
		if o.has("L") {
			fi, err = Stat(full)
		} else {
			fi, err = Lstat(full)
		}
		if err != nil {
			c.errorf("cannot stat '%s': %s", name, errText(err))
			continue
		}
		out := c.statFormat(format, name, full, fi)
		if newline {
			out += "\n"
		}
		c.out.WriteString(out)
	}
	return c.done()
}

func statTime(t time.Time, loc *time.Location) string {
	return strftime("%Y-%m-%d %H:%M:%S.%N %z", t.In(loc))
}

func (c *cmd) statFormat(format, name, full string, fi fs.FileInfo) string {
	var b strings.Builder
	st := sysInfo(fi)
	loc := c.zone()
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if ch != '%' || i+1 >= len(format) {
			b.WriteByte(ch)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ #0123456789.'", format[j]) >= 0 {
			j++
		}
		if j >= len(format) {
			b.WriteString(format[i:])
			break
		}
		spec := format[i+1 : j]
		d := format[j]
		if (d == 'H' || d == 'L') && j+1 < len(format) && (format[j+1] == 'd' || format[j+1] == 'r') {
			j++
			d = 'd'
		}
		i = j
		var s string
		numeric := true
		switch d {
		case '%':
			s, numeric = "%", false
		case 'n':
			s, numeric = name, false
		case 'N':
			s, numeric = "'"+name+"'", false
			if fi.Mode()&fs.ModeSymlink != 0 {
				if t, err := os.Readlink(full); err == nil {
					s += " -> '" + t + "'"
				}
			}
			if format == statDefault {
				s = strings.ReplaceAll(s, "'", "")
			}
		case 's':
			s = strconv.FormatInt(fi.Size(), 10)
		case 'b':
			s = strconv.FormatInt(blocks1K(fi)*2, 10)
		case 'B':
			s = "512"
		case 'o':
			s = "4096"
		case 'a':
			s = strconv.FormatUint(uint64(unixMode(fi.Mode())), 8)
		case 'A':
			s, numeric = modeString(fi.Mode()), false
		case 'f':
			s = strconv.FormatUint(uint64(rawMode(fi.Mode())), 16)
		case 'F':
			s, numeric = fileTypeName(fi), false
		case 'u':
			s = strconv.FormatUint(uint64(st.uid), 10)
		case 'U':
			s, numeric = userName(st.uid), false
		case 'g':
			s = strconv.FormatUint(uint64(st.gid), 10)
		case 'G':
			s, numeric = groupName(st.gid), false
		case 'h':
			s = strconv.FormatUint(st.nlink, 10)
		case 'i':
			s = strconv.FormatUint(st.ino, 10)
		case 'd':
			s = "0"
		case 'D':
			s = strconv.FormatUint(st.dev, 16)
		case 't', 'T':
			s = "0"
		case 'm':
			s, numeric = "/", false
		case 'x', 'y', 'z':
			s, numeric = statTime(fi.ModTime(), loc), false
		case 'X', 'Y', 'Z':
			s = strconv.FormatInt(fi.ModTime().Unix(), 10)
		case 'w':
			s, numeric = "-", false
		case 'W':
			s = "0"
		case 'C':
			s, numeric = "?", false
		default:
			s, numeric = "?", false
		}
		if spec != "" {
			goSpec := strings.NewReplacer("#", "", "'", "").Replace(spec)
			if numeric && !strings.Contains(goSpec, ".") {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil && d != 'a' {
					s = fmt.Sprintf("%"+goSpec+"d", n)
					b.WriteString(s)
					continue
				}
				if d == 'a' {
					n, _ := strconv.ParseInt(s, 8, 64)
					if strings.Contains(spec, "#") {
						goSpec = "#" + goSpec
					}
					s = fmt.Sprintf("%"+goSpec+"o", n)
					b.WriteString(s)
					continue
				}
			}
			s = fmt.Sprintf("%"+strings.ReplaceAll(goSpec, "0", "")+"s", s)
		}
		b.WriteString(s)
	}
	return b.String()
}

// canonicalize resolves every symlink of p, physically (".." after a
// link goes up from its target). mode 'f': all but the last component
// must exist; 'e': all must; 'm': none need to.
func (c *cmd) canonicalize(p string, mode byte) (string, error) {
	var rest []string
	if !filepath.IsAbs(p) {
		rest = append(rest, strings.Split(c.env.Dir, "/")...)
	}
	rest = append(rest, strings.Split(p, "/")...)
	resolved := "/"
	links := 0
	for len(rest) > 0 {
		comp := rest[0]
		rest = rest[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, comp)
		fi, err := os.Lstat(next)
		if err != nil {
			last := true
			for _, r := range rest {
				if r != "" && r != "." {
					last = false
				}
			}
			if mode == 'm' || (mode == 'f' && last && errors.Is(err, fs.ErrNotExist)) {
				resolved = next
				continue
			}
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if !fi.IsDir() && len(rest) > 0 && mode != 'm' {
				more := false
				for _, r := range rest {
					if r != "" && r != "." {
						more = true
					}
				}
				if more {
					return "", syscall.ENOTDIR
				}
			}
			resolved = next
			continue
		}
		links++
		if links > 40 {
			return "", syscall.ELOOP
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return resolved, nil
}

func readlink(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "femnqsvz", long: map[string]string{
		"canonicalize": "f", "canonicalize-existing": "e", "canonicalize-missing": "m",
		"no-newline": "n", "quiet": "q", "silent": "s", "verbose": "v", "zero": "z"}}, args[1:])
	if !ok {
		return code
	}
	if len(files) == 0 {
		return c.fail(1, "missing operand")
	}
	end := "\n"
	if o.has("z") {
		end = "\x00"
	}
	if o.has("n") && len(files) == 1 {
		end = ""
	}
	mode := o.last("f", "e", "m")
	for _, name := range files {
		var s string
		var err error
		if mode == "" {
			s, err = os.Readlink(c.abs(name))
		} else {
			s, err = c.canonicalize(name, mode[0])
		}
		if err != nil {
			if o.has("v") {
				c.errorf("%s: %s", name, errText(err))
			} else {
				c.status = 1
			}
			continue
		}
		c.out.WriteString(s + end)
	}
	return c.done()
}

func realpath(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "eEmLPqsz", long: map[string]string{
		"canonicalize-existing": "e", "canonicalize-missing": "m", "logical": "L", "physical": "P",
		"quiet": "q", "strip": "s", "no-symlinks": "s", "zero": "z", "relative-to=": "rel",
		"relative-base=": "base"}}, args[1:])
	if !ok {
		return code
	}
	if len(files) == 0 {
		return c.fail(1, "missing operand")
	}
	mode := byte('f')
	switch o.last("e", "m", "E") {
	case "e":
		mode = 'e'
	case "m":
		mode = 'm'
	}
	resolve := func(p string) (string, error) {
		if o.has("s") || o.has("L") {
			r := c.abs(p)
			if mode != 'm' {
				if _, err := os.Lstat(r); err != nil && (mode == 'e' || !errors.Is(err, fs.ErrNotExist)) {
					return "", err
				}
			}
			return r, nil
		}
		return c.canonicalize(p, mode)
	}
	end := "\n"
	if o.has("z") {
		end = "\x00"
	}
	var relTo, base string
	if r, ok := o.val("rel"); ok {
		var err error
		if relTo, err = resolve(r); err != nil {
			return c.fail(1, "%s: %s", r, errText(err))
		}
	}
	if r, ok := o.val("base"); ok {
		var err error
		if base, err = resolve(r); err != nil {
			return c.fail(1, "%s: %s", r, errText(err))
		}
		if relTo == "" {
			relTo = base
		}
	}
	for _, name := range files {
		s, err := resolve(name)
		if err != nil {
			if !o.has("q") {
				c.errorf("%s: %s", name, errText(err))
			} else {
				c.status = 1
			}
			continue
		}
		if relTo != "" && (base == "" || s == base || strings.HasPrefix(s, strings.TrimSuffix(base, "/")+"/")) {
			if r, err := filepath.Rel(relTo, s); err == nil {
				s = r
			}
		}
		c.out.WriteString(s + end)
	}
	return c.done()
}

const tempChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func mktemp(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "dp:qtu", long: map[string]string{
		"directory": "d", "tmpdir?": "p", "quiet": "q", "dry-run": "u", "suffix=": "suffix"}}, args[1:])
	if !ok {
		return code
	}
	if len(operands) > 1 {
		return c.fail(1, "too many templates")
	}
	template := "tmp.XXXXXXXXXX"
	explicit := len(operands) == 1
	if explicit {
		template = operands[0]
	}
	suffix := o.str("suffix", "")
	if explicit && suffix == "" {
		// A suffix after the last X run.
		if i := strings.LastIndex(template, "XXX"); i >= 0 {
			j := i + 3
			for j < len(template) && template[j] == 'X' {
				j++
			}
			if k := strings.IndexByte(template[j:], '/'); k < 0 {
				template, suffix = template[:j], template[j:]
			}
		}
	}
	dir := ""
	if d, ok := o.val("p"); ok || o.has("t") || !explicit {
		dir = d
		if dir == "" {
			dir = env.Getenv("TMPDIR")
		}
		if dir == "" {
			dir = "/tmp"
		}
		if o.has("t") && !ok {
			if t := env.Getenv("TMPDIR"); t != "" {
				dir = t
			}
		}
		if strings.Contains(template, "/") && o.has("t") {
			return c.fail(1, "invalid template, '%s'; with --tmpdir, it may not contain a slash", template)
		}
	}
	xs := 0
	for i := len(template) - 1; i >= 0 && template[i] == 'X'; i-- {
		xs++
	}
	if xs < 3 {
		return c.fail(1, "too few X's in template '%s'", template+suffix)
	}
	prefix := template[:len(template)-xs]
	for try := 0; try < 100; try++ {
		buf := make([]byte, xs)
		rand.Read(buf)
		for i := range buf {
			buf[i] = tempChars[int(buf[i])%len(tempChars)]
		}
		name := prefix + string(buf) + suffix
		if dir != "" {
			name = filepath.Join(dir, name)
		}
		full := c.abs(name)
		var err error
		switch {
		case o.has("u"):
			if _, serr := os.Lstat(full); serr == nil {
				err = fs.ErrExist
			}
		case o.has("d"):
			if err = os.Mkdir(full, 0o700); err == nil {
				Chmod(full, 0o700)
			}
		default:
			var f *os.File
			if f, err = os.OpenFile(full, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
				f.Close()
				Chmod(full, 0o600)
			}
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			if o.has("q") {
				return c.finish(1)
			}
			what := "file"
			if o.has("d") {
				what = "directory"
			}
			return c.fail(1, "failed to create %s via template '%s': %s", what, filepath.Join(dir, template+suffix), errText(err))
		}
		c.out.WriteString(name + "\n")
		return c.done()
	}
	return c.fail(1, "failed to create file via template '%s': File exists", template)
}
