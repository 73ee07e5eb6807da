package applets

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

func init() {
	register("install", install)
}

// install copies files and sets their mode (0755 unless -m) and owner:
// install [-D] [-m MODE] [-o OWNER] [-g GROUP] SRC... DEST, install -d DIR...
func install(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "cdDm:o:g:pst:TvbC", long: map[string]string{
		"directory": "d", "mode=": "m", "owner=": "o", "group=": "g", "preserve-timestamps": "p",
		"strip": "s", "target-directory=": "t", "no-target-directory": "T", "verbose": "v",
		"compare": "C", "backup?": "b"}}, args[1:])
	if !ok {
		return code
	}
	mode := uint32(0o755)
	if m, ok := o.val("m"); ok {
		v, err := parseMode(m, 0o755, false)
		if err != nil {
			return c.fail(1, "invalid mode '%s'", m)
		}
		mode = v
	}
	uid, gid := -1, -1
	if u, ok := o.val("o"); ok {
		id, _, found := lookupUser(u)
		if !found {
			return c.fail(1, "invalid user '%s'", u)
		}
		uid = int(id)
	}
	if g, ok := o.val("g"); ok {
		id, found := lookupGroup(g)
		if !found {
			return c.fail(1, "invalid group '%s'", g)
		}
		gid = int(id)
	}
	setAttrs := func(name, full string) bool {
		if err := Chmod(full, goMode(mode)); err != nil {
			c.errorf("cannot change permissions of '%s': %s", name, errText(err))
			return false
		}
		if uid >= 0 || gid >= 0 {
			if err := Lchown(full, uid, gid); err != nil {
				c.errorf("cannot change ownership of '%s': %s", name, errText(err))
				return false
			}
		}
		return true
	}
	if o.has("d") {
		if len(operands) == 0 {
			return c.fail(1, "missing file operand")
		}
		for _, d := range operands {
			full := c.abs(d)
			if err := os.MkdirAll(full, 0o755); err != nil {
				c.errorf("cannot create directory '%s': %s", d, errText(err))
				continue
			}
			if o.has("v") {
				c.out.WriteString("install: creating directory '" + d + "'\n")
			}
			setAttrs(d, full)
		}
		return c.done()
	}
	if o.has("D") {
		// Create the leading directories of the destination.
		dest := ""
		if t, ok := o.val("t"); ok {
			dest = t
		} else if len(operands) > 1 {
			dest = filepath.Dir(operands[len(operands)-1])
		}
		if dest != "" {
			if err := os.MkdirAll(c.abs(dest), 0o755); err != nil {
				return c.fail(1, "cannot create directory '%s': %s", dest, errText(err))
			}
		}
	}
	pairs, ok := c.targets(o, operands)
	if !ok {
		return c.finish(1)
	}
	for _, p := range pairs {
		src, dst := p[0], p[1]
		sfull, dfull := c.abs(src), c.abs(dst)
		fi, err := os.Stat(sfull)
		if err != nil {
			c.errorf("cannot stat '%s': %s", src, errText(err))
			continue
		}
		if fi.IsDir() {
			c.errorf("omitting directory '%s'", src)
			continue
		}
		if dfi, err := os.Stat(dfull); err == nil && os.SameFile(fi, dfi) {
			c.errorf("'%s' and '%s' are the same file", src, dst)
			continue
		}
		if err := copyFile(sfull, dfull); err != nil {
			c.errorf("cannot create regular file '%s': %s", dst, errText(err))
			continue
		}
		if o.has("v") {
			c.out.WriteString("'" + src + "' -> '" + dst + "'\n")
		}
		if !setAttrs(dst, dfull) {
			continue
		}
		if o.has("p") {
			os.Chtimes(dfull, fi.ModTime(), fi.ModTime())
		}
	}
	return c.done()
}

// copyFile replaces dst with a copy of src's contents.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
