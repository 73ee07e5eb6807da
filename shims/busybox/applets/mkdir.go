package applets

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

func init() {
	register("mkdir", mkdir)
	register("rmdir", rmdir)
	register("rm", rm)
	register("unlink", unlink)
	register("link", link)
}

func mkdir(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, dirs, code, ok := c.parseOpts(&optSpec{short: "pm:v", long: map[string]string{
		"parents": "p", "mode=": "m", "verbose": "v"}}, args[1:])
	if !ok {
		return code
	}
	if len(dirs) == 0 {
		return c.fail(1, "missing operand")
	}
	mode := uint32(0o777 &^ umask)
	modeSpec, hasMode := o.val("m")
	if hasMode {
		m, err := parseMode(modeSpec, 0o777, true)
		if err != nil {
			return c.fail(1, "invalid mode '%s'", modeSpec)
		}
		mode = m
	}
	created := func(name string) {
		if o.has("v") {
			c.out.WriteString("mkdir: created directory '" + name + "'\n")
		}
	}
	for _, d := range dirs {
		full := c.abs(d)
		if o.has("p") {
			// Create each missing component of the path as given, the
			// parents with the default mode.
			var prefixes []string
			for i := 1; i <= len(d); i++ {
				if i == len(d) || d[i] == '/' {
					if p := d[:i]; strings.Trim(p, "/") != "" && (i == len(d) || d[i-1] != '/') {
						prefixes = append(prefixes, p)
					}
				}
			}
			for i, p := range prefixes {
				pfull := c.abs(p)
				last := i == len(prefixes)-1
				err := os.Mkdir(pfull, 0o777&^umask)
				if err == nil {
					if last && hasMode {
						if err := Chmod(pfull, goMode(mode)); err != nil {
							c.errorf("cannot set permissions of '%s': %s", p, errText(err))
						}
					}
					created(p)
					continue
				}
				if fi, serr := os.Stat(pfull); serr == nil && fi.IsDir() {
					continue
				} else if serr == nil {
					err = syscall.ENOTDIR
					if last {
						err = syscall.EEXIST
					}
				}
				c.errorf("cannot create directory '%s': %s", p, errText(err))
				break
			}
			continue
		}
		if err := os.Mkdir(full, goMode(mode)&fs.ModePerm); err != nil {
			c.errorf("cannot create directory '%s': %s", d, errText(err))
			continue
		}
		if hasMode {
			if err := Chmod(full, goMode(mode)); err != nil {
				c.errorf("cannot set permissions of '%s': %s", d, errText(err))
			}
		}
		created(d)
	}
	return c.done()
}

func rmdir(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, dirs, code, ok := c.parseOpts(&optSpec{short: "pv", long: map[string]string{
		"parents": "p", "verbose": "v", "ignore-fail-on-non-empty": "ignore"}}, args[1:])
	if !ok {
		return code
	}
	if len(dirs) == 0 {
		return c.fail(1, "missing operand")
	}
	remove := func(name string) bool {
		if o.has("v") {
			c.out.WriteString("rmdir: removing directory, '" + name + "'\n")
		}
		full := c.abs(name)
		fi, err := os.Lstat(full)
		if err == nil && !fi.IsDir() {
			err = syscall.ENOTDIR
		}
		if err == nil {
			err = syscall.Rmdir(full)
		}
		if err != nil {
			if o.has("ignore") && (errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)) {
				return false
			}
			c.errorf("failed to remove '%s': %s", name, errText(err))
			return false
		}
		return true
	}
	for _, d := range dirs {
		if !remove(d) || !o.has("p") {
			continue
		}
		p := strings.TrimRight(d, "/")
		for {
			i := strings.LastIndexByte(p, '/')
			if i <= 0 {
				break
			}
			p = strings.TrimRight(p[:i], "/")
			if p == "" || !remove(p) {
				break
			}
		}
	}
	return c.done()
}

func rm(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "frRidvI", long: map[string]string{
		"force": "f", "recursive": "r", "dir": "d", "verbose": "v", "interactive?": "i",
		"preserve-root?": "preserve-root", "no-preserve-root": "no-preserve-root", "one-file-system": "x"}}, args[1:])
	if !ok {
		return code
	}
	force := o.has("f")
	recursive := o.has("r") || o.has("R")
	if len(files) == 0 {
		if force {
			return c.done()
		}
		return c.fail(1, "missing operand")
	}
	for _, name := range files {
		if c.broken() {
			break
		}
		base := baseName(name)
		if recursive && (base == "." || base == "..") {
			c.errorf("refusing to remove '.' or '..' directory: skipping '%s'", name)
			continue
		}
		full := c.abs(name)
		if recursive && full == "/" && !o.has("no-preserve-root") {
			c.errorf("it is dangerous to operate recursively on '%s'", name)
			c.warnf("use --no-preserve-root to override this failsafe")
			continue
		}
		fi, err := os.Lstat(full)
		if err != nil {
			if !(force && errors.Is(err, fs.ErrNotExist)) {
				c.errorf("cannot remove '%s': %s", name, errText(err))
			}
			continue
		}
		if fi.IsDir() {
			switch {
			case recursive:
				c.removeTree(name, full, o.has("v"))
				continue
			case o.has("d"):
			default:
				c.errorf("cannot remove '%s': Is a directory", name)
				continue
			}
		}
		if err := removeOne(full, fi.IsDir()); err != nil {
			c.errorf("cannot remove '%s': %s", name, errText(err))
			continue
		}
		c.removed(name, fi.IsDir(), o.has("v"))
	}
	return c.done()
}

func removeOne(full string, dir bool) error {
	if dir {
		return syscall.Rmdir(full)
	}
	return syscall.Unlink(full)
}

func (c *cmd) removed(name string, dir, verbose bool) {
	if !verbose {
		return
	}
	if dir {
		c.out.WriteString("removed directory '" + name + "'\n")
	} else {
		c.out.WriteString("removed '" + name + "'\n")
	}
}

// removeTree removes a directory and everything under it, reporting each
// failure; it reports whether everything went.
func (c *cmd) removeTree(name, full string, verbose bool) bool {
	ents, err := os.ReadDir(full)
	if err != nil {
		c.errorf("cannot remove '%s': %s", name, errText(err))
		return false
	}
	ok := true
	for _, e := range ents {
		child, cfull := name+"/"+e.Name(), full+"/"+e.Name()
		if strings.HasSuffix(name, "/") {
			child = name + e.Name()
		}
		if e.IsDir() {
			if !c.removeTree(child, cfull, verbose) {
				ok = false
			}
			continue
		}
		if err := syscall.Unlink(cfull); err != nil {
			c.errorf("cannot remove '%s': %s", child, errText(err))
			ok = false
			continue
		}
		c.removed(child, false, verbose)
	}
	if !ok {
		return false
	}
	if err := syscall.Rmdir(full); err != nil {
		c.errorf("cannot remove '%s': %s", name, errText(err))
		return false
	}
	c.removed(name, true, verbose)
	return true
}

func unlink(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	_, files, code, ok := c.parseOpts(&optSpec{}, args[1:])
	if !ok {
		return code
	}
	if len(files) != 1 {
		if len(files) == 0 {
			return c.fail(1, "missing operand")
		}
		return c.fail(1, "extra operand '%s'", files[1])
	}
	if err := syscall.Unlink(c.abs(files[0])); err != nil {
		return c.fail(1, "cannot unlink '%s': %s", files[0], errText(err))
	}
	return c.done()
}

func link(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	_, files, code, ok := c.parseOpts(&optSpec{}, args[1:])
	if !ok {
		return code
	}
	if len(files) != 2 {
		if len(files) < 2 {
			return c.fail(1, "missing operand")
		}
		return c.fail(1, "extra operand '%s'", files[2])
	}
	if err := os.Link(c.abs(files[0]), c.abs(files[1])); err != nil {
		return c.fail(1, "cannot create link '%s' to '%s': %s", files[1], files[0], errText(err))
	}
	return c.done()
}
