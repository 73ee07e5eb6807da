package applets

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

func init() {
	register("chmod", chmod)
	register("chown", chown)
	register("chgrp", chown)
}

// splitModeArgs separates chmod's options from its operands; a mode like
// "-w" or "-x,g+r" is an operand, not options.
func splitModeArgs(args []string) (flags, operands []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(operands, args[i+1:]...)
		case strings.HasPrefix(a, "--"):
			flags = append(flags, a)
			if (a == "--reference") && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		case len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "Rcfvh") == "":
			flags = append(flags, a)
		default:
			operands = append(operands, a)
		}
	}
	return flags, operands
}

func chmod(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	flags, operands := splitModeArgs(args[1:])
	o, _, code, ok := c.parseOpts(&optSpec{short: "Rcfvh", long: map[string]string{
		"recursive": "R", "changes": "c", "silent": "f", "quiet": "f", "verbose": "v",
		"reference=": "reference", "preserve-root": "preserve-root", "no-preserve-root": "npr"}}, flags)
	if !ok {
		return code
	}
	var spec string
	ref, hasRef := o.val("reference")
	if hasRef {
		fi, err := Stat(c.abs(ref))
		if err != nil {
			return c.fail(1, "failed to get attributes of '%s': %s", ref, errText(err))
		}
		spec = fmt.Sprintf("%o", unixMode(fi.Mode()))
	} else {
		if len(operands) == 0 {
			return c.fail(1, "missing operand")
		}
		spec, operands = operands[0], operands[1:]
	}
	if len(operands) == 0 {
		return c.fail(1, "missing operand after '%s'", spec)
	}
	if _, err := parseMode(spec, 0, false); err != nil {
		return c.fail(1, "invalid mode: '%s'", spec)
	}
	quiet, verbose, changes := o.has("f"), o.has("v"), o.has("c")
	apply := func(name, full string, fi fs.FileInfo) {
		old := unixMode(fi.Mode())
		m, err := parseMode(spec, old, fi.IsDir())
		if err != nil {
			c.errorf("invalid mode: '%s'", spec)
			return
		}
		if err := Chmod(full, goMode(m)); err != nil {
			if !quiet {
				c.errorf("changing permissions of '%s': %s", name, errText(err))
			} else {
				c.status = 1
			}
			return
		}
		switch {
		case old != m && (verbose || changes):
			fmt.Fprintf(c.out, "mode of '%s' changed from %04o (%s) to %04o (%s)\n", name, old, modeString(goMode(old))[1:], m, modeString(goMode(m))[1:])
		case old == m && verbose:
			fmt.Fprintf(c.out, "mode of '%s' retained as %04o (%s)\n", name, m, modeString(goMode(m))[1:])
		}
	}
	for _, name := range operands {
		full := c.abs(name)
		fi, err := Stat(full)
		if err != nil {
			if !quiet {
				c.errorf("cannot access '%s': %s", name, errText(err))
			} else {
				c.status = 1
			}
			continue
		}
		apply(name, full, fi)
		if o.has("R") && fi.IsDir() {
			c.walkTree(name, full, func(n, f string, fi fs.FileInfo) {
				if fi.Mode()&fs.ModeSymlink == 0 {
					apply(n, f, fi)
				}
			})
		}
	}
	return c.done()
}

// walkTree calls fn for everything under a directory (not the directory
// itself), parents before children, without following symlinks.
func (c *cmd) walkTree(name, full string, fn func(name, full string, fi fs.FileInfo)) {
	ents, err := os.ReadDir(full)
	if err != nil {
		c.errorf("cannot read directory '%s': %s", name, errText(err))
		return
	}
	for _, e := range ents {
		cn, cf := joinShown(name, e.Name()), filepath.Join(full, e.Name())
		fi, err := Lstat(cf)
		if err != nil {
			c.errorf("cannot access '%s': %s", cn, errText(err))
			continue
		}
		fn(cn, cf, fi)
		if fi.IsDir() {
			c.walkTree(cn, cf, fn)
		}
	}
}

// parseOwner parses chown's OWNER[:[GROUP]] (or OWNER.GROUP); -1 leaves a
// value unchanged.
func parseOwner(spec string) (uid, gid int, err error) {
	uid, gid = -1, -1
	user, group, hasGroup := strings.Cut(spec, ":")
	if !hasGroup && strings.Contains(spec, ".") {
		if _, _, ok := lookupUser(spec); !ok {
			user, group, hasGroup = strings.Cut(spec, ".")
		}
	}
	if user != "" {
		u, g, ok := lookupUser(user)
		if !ok {
			return 0, 0, fmt.Errorf("invalid user: '%s'", spec)
		}
		uid = int(u)
		if hasGroup && group == "" {
			gid = int(g)
		}
	}
	if group != "" {
		g, ok := lookupGroup(group)
		if !ok {
			return 0, 0, fmt.Errorf("invalid group: '%s'", spec)
		}
		gid = int(g)
	}
	return uid, gid, nil
}

func chown(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "RcfvhHLP", long: map[string]string{
		"recursive": "R", "changes": "c", "silent": "f", "quiet": "f", "verbose": "v",
		"no-dereference": "h", "dereference": "deref", "reference=": "reference", "from=": "from",
		"preserve-root": "preserve-root", "no-preserve-root": "npr"}}, args[1:])
	if !ok {
		return code
	}
	isGrp := c.name == "chgrp"
	var uid, gid int
	if ref, ok := o.val("reference"); ok {
		fi, err := Stat(c.abs(ref))
		if err != nil {
			return c.fail(1, "failed to get attributes of '%s': %s", ref, errText(err))
		}
		st := sysInfo(fi)
		uid, gid = int(st.uid), int(st.gid)
		if isGrp {
			uid = -1
		}
	} else {
		if len(operands) == 0 {
			return c.fail(1, "missing operand")
		}
		spec := operands[0]
		operands = operands[1:]
		var err error
		if isGrp {
			g, ok := lookupGroup(spec)
			if !ok {
				return c.fail(1, "invalid group: '%s'", spec)
			}
			uid, gid = -1, int(g)
		} else if uid, gid, err = parseOwner(spec); err != nil {
			return c.fail(1, "%s", err)
		}
		if len(operands) == 0 {
			return c.fail(1, "missing operand after '%s'", spec)
		}
	}
	quiet := o.has("f")
	apply := func(name, full string) {
		if err := Lchown(full, uid, gid); err != nil {
			if !quiet {
				what := "ownership"
				if isGrp {
					what = "group"
				}
				c.errorf("changing %s of '%s': %s", what, name, errText(err))
			} else {
				c.status = 1
			}
			return
		}
		if o.has("v") {
			fmt.Fprintf(c.out, "ownership of '%s' retained or changed\n", name)
		}
	}
	for _, name := range operands {
		full := c.abs(name)
		fi, err := Lstat(full)
		if err != nil {
			if !quiet {
				c.errorf("cannot access '%s': %s", name, errText(err))
			} else {
				c.status = 1
			}
			continue
		}
		target := full
		if fi.Mode()&fs.ModeSymlink != 0 && !o.has("h") {
			// Without -h the link's target changes owner.
			if t, err := filepath.EvalSymlinks(full); err == nil {
				target = t
				if tfi, err := os.Stat(t); err == nil {
					fi = tfi
				}
			}
		}
		apply(name, target)
		if o.has("R") && fi.IsDir() {
			c.walkTree(name, target, func(n, f string, _ fs.FileInfo) { apply(n, f) })
		}
	}
	return c.done()
}
