package applets

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func init() {
	register("ln", ln)
	register("touch", touch)
}

func ln(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "sfnvTt:rLPi", long: map[string]string{
		"symbolic": "s", "force": "f", "no-dereference": "n", "verbose": "v", "no-target-directory": "T",
		"target-directory=": "t", "relative": "r", "logical": "L", "physical": "P", "interactive": "i"}}, args[1:])
	if !ok {
		return code
	}
	symbolic := o.has("s")
	var pairs [][2]string
	if _, hasT := o.val("t"); !hasT && len(operands) == 1 {
		// ln TARGET: a link of the same name here.
		pairs = [][2]string{{operands[0], baseName(operands[0])}}
	} else {
		var ok bool
		if !o.has("t") && len(operands) >= 2 && o.has("n") {
			// -n: a symlink to a directory is not entered.
			dest := operands[len(operands)-1]
			if fi, err := os.Lstat(c.abs(dest)); err == nil && fi.Mode()&fs.ModeSymlink != 0 && len(operands) == 2 {
				pairs, ok = [][2]string{{operands[0], dest}}, true
			}
		}
		if pairs == nil {
			pairs, ok = c.targets(o, operands)
		}
		if !ok {
			return c.finish(1)
		}
	}
	for _, p := range pairs {
		target, name := p[0], p[1]
		full := c.abs(name)
		if symbolic && o.has("r") {
			rel, err := filepath.Rel(filepath.Dir(full), c.abs(target))
			if err == nil {
				target = rel
			}
		}
		if !symbolic {
			if _, err := os.Stat(c.abs(target)); err != nil {
				c.errorf("failed to access '%s': %s", target, errText(err))
				continue
			}
		}
		if fi, err := os.Lstat(full); err == nil {
			if !o.has("f") {
				if symbolic {
					c.errorf("failed to create symbolic link '%s': File exists", name)
				} else {
					c.errorf("failed to create hard link '%s': File exists", name)
				}
				continue
			}
			if fi.IsDir() {
				c.errorf("%s: cannot overwrite directory", name)
				continue
			}
			if !symbolic {
				if tfi, err := os.Stat(c.abs(target)); err == nil && os.SameFile(fi, tfi) {
					c.errorf("'%s' and '%s' are the same file", target, name)
					continue
				}
			}
			os.Remove(full)
		}
		var err error
		if symbolic {
			err = os.Symlink(target, full)
		} else {
			err = os.Link(c.abs(target), full)
		}
		if err != nil {
			if symbolic {
				c.errorf("failed to create symbolic link '%s': %s", name, errText(err))
			} else {
				c.errorf("failed to create hard link '%s' => '%s': %s", name, target, errText(err))
			}
			continue
		}
		if o.has("v") {
			arrow := " => "
			if symbolic {
				arrow = " -> "
			}
			c.out.WriteString("'" + name + "'" + arrow + "'" + target + "'\n")
		}
	}
	return c.done()
}

// parseTouchStamp parses touch -t [[CC]YY]MMDDhhmm[.ss].
func parseTouchStamp(s string, now time.Time, loc *time.Location) (time.Time, bool) {
	main, sec, hasSec := strings.Cut(s, ".")
	for _, ch := range main + sec {
		if ch < '0' || ch > '9' {
			return time.Time{}, false
		}
	}
	if hasSec && len(sec) != 2 {
		return time.Time{}, false
	}
	year := now.In(loc).Year()
	switch len(main) {
	case 8:
	case 10:
		yy := atoiDigits(main[:2])
		year = 1900 + yy
		if yy < 69 {
			year = 2000 + yy
		}
		main = main[2:]
	case 12:
		year = atoiDigits(main[:4])
		main = main[4:]
	default:
		return time.Time{}, false
	}
	mon, day, hh, mm := atoiDigits(main[0:2]), atoiDigits(main[2:4]), atoiDigits(main[4:6]), atoiDigits(main[6:8])
	ss := 0
	if hasSec {
		ss = atoiDigits(sec)
	}
	if mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 61 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(mon), day, hh, mm, ss, 0, loc), true
}

func atoiDigits(s string) int {
	n := 0
	for _, ch := range s {
		n = n*10 + int(ch-'0')
	}
	return n
}

func touch(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "acmd:t:r:hf", long: map[string]string{
		"no-create": "c", "date=": "d", "reference=": "r", "no-dereference": "h", "time=": "time"}}, args[1:])
	if !ok {
		return code
	}
	if len(files) == 0 {
		return c.fail(1, "missing file operand")
	}
	now := time.Now()
	atime, mtime := now, now
	loc := c.zone()
	switch {
	case o.has("r"):
		ref, _ := o.val("r")
		fi, err := Stat(c.abs(ref))
		if err != nil {
			return c.fail(1, "failed to get attributes of '%s': %s", ref, errText(err))
		}
		atime, mtime = fi.ModTime(), fi.ModTime()
	case o.has("t"):
		v, _ := o.val("t")
		t, ok := parseTouchStamp(v, now, loc)
		if !ok {
			return c.fail(1, "invalid date format '%s'", v)
		}
		atime, mtime = t, t
	case o.has("d"):
		v, _ := o.val("d")
		t, err := parseDate(v, now, loc)
		if err != nil {
			return c.fail(1, "invalid date format '%s'", v)
		}
		atime, mtime = t, t
	}
	onlyA, onlyM := o.has("a"), o.has("m")
	switch o.str("time", "") {
	case "access", "atime", "use":
		onlyA = true
	case "modify", "mtime":
		onlyM = true
	}
	if onlyA && !onlyM {
		mtime = time.Time{}
	}
	if onlyM && !onlyA {
		atime = time.Time{}
	}
	for _, name := range files {
		if name == "-" {
			continue
		}
		full := c.abs(name)
		if _, err := os.Stat(full); errors.Is(err, fs.ErrNotExist) {
			if o.has("c") {
				continue
			}
			f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE, 0o666&^umask)
			if err != nil {
				c.errorf("cannot touch '%s': %s", name, errText(err))
				continue
			}
			f.Close()
		}
		if err := os.Chtimes(full, atime, mtime); err != nil {
			c.errorf("setting times of '%s': %s", name, errText(err))
		}
	}
	return c.done()
}
