package applets

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

func init() {
	register("cp", cp)
	register("mv", mv)
}

type cpOpts struct {
	recursive bool
	deref     string // "P" never, "L" always, "H" command line only
	preserve  bool   // mode, ownership, timestamps
	force     bool
	noClobber bool
	update    bool
	verbose   bool
	hardLink  bool
	symLink   bool
	forMove   bool // mv's copy across devices: keep everything
}

// targets works out where each source goes: into dest when it is a
// directory (or -t), else dest itself. It prints errors and returns nil
// when the command line cannot work.
func (c *cmd) targets(o *opts, operands []string) ([][2]string, bool) {
	var dest string
	if t, ok := o.val("t"); ok {
		dest = t
		if fi, err := os.Stat(c.abs(dest)); err != nil || !fi.IsDir() {
			if err == nil {
				err = syscall.ENOTDIR
			}
			c.errorf("target directory '%s': %s", dest, errText(err))
			return nil, false
		}
	} else {
		if len(operands) == 0 {
			c.errorf("missing file operand")
			return nil, false
		}
		if len(operands) == 1 {
			c.errorf("missing destination file operand after '%s'", operands[0])
			return nil, false
		}
		dest = operands[len(operands)-1]
		operands = operands[:len(operands)-1]
	}
	destDir := false
	if !o.has("T") {
		if fi, err := os.Stat(c.abs(dest)); err == nil && fi.IsDir() {
			destDir = true
		}
	} else if len(operands) > 1 {
		c.errorf("extra operand '%s'", operands[1])
		return nil, false
	}
	if len(operands) > 1 && !destDir {
		if _, err := os.Stat(c.abs(dest)); err != nil {
			c.errorf("target '%s': %s", dest, errText(err))
		} else {
			c.errorf("target '%s' is not a directory", dest)
		}
		return nil, false
	}
	var r [][2]string
	for _, src := range operands {
		dst := dest
		if destDir {
			b := baseName(src)
			if strings.HasSuffix(dest, "/") {
				dst = dest + b
			} else {
				dst = dest + "/" + b
			}
			if b == "." || b == "/" {
				dst = dest
			}
		}
		r = append(r, [2]string{src, dst})
	}
	return r, true
}

func cp(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "rRapfnuvdPLHlsTt:ix", long: map[string]string{
		"recursive": "r", "archive": "a", "force": "f", "no-clobber": "n", "update?": "u",
		"verbose": "v", "no-dereference": "P", "dereference": "L", "link": "l", "symbolic-link": "s",
		"no-target-directory": "T", "target-directory=": "t", "interactive": "i",
		"preserve?": "preserve", "no-preserve=": "no-preserve", "one-file-system": "x",
		"remove-destination": "f", "parents": "parents", "sparse=": "sparse", "reflink?": "reflink"}}, args[1:])
	if !ok {
		return code
	}
	co := &cpOpts{
		recursive: o.has("r") || o.has("R") || o.has("a"),
		preserve:  o.has("p") || o.has("a") || (o.has("preserve") && o.str("preserve", "") != "links"),
		force:     o.has("f"),
		noClobber: o.has("n"),
		update:    o.has("u"),
		verbose:   o.has("v"),
		hardLink:  o.has("l"),
		symLink:   o.has("s"),
	}
	if o.has("no-preserve") {
		co.preserve = false
	}
	switch o.last("P", "L", "H", "d", "a") {
	case "P", "d", "a":
		co.deref = "P"
	case "L":
		co.deref = "L"
	case "H":
		co.deref = "H"
	default:
		if co.recursive {
			co.deref = "P"
		} else {
			co.deref = "L"
		}
	}
	pairs, ok := c.targets(o, operands)
	if !ok {
		return c.finish(1)
	}
	for _, p := range pairs {
		if c.broken() {
			break
		}
		c.copyTop(p[0], p[1], co)
	}
	return c.done()
}

func (c *cmd) copyTop(src, dst string, co *cpOpts) {
	sfull, dfull := c.abs(src), c.abs(dst)
	stat := Lstat
	if co.deref != "P" {
		stat = Stat
	}
	fi, err := stat(sfull)
	if err != nil {
		c.errorf("cannot stat '%s': %s", src, errText(err))
		return
	}
	if fi.IsDir() {
		if !co.recursive {
			c.errorf("-r not specified; omitting directory '%s'", src)
			return
		}
		// Copying a directory into itself.
		rel, err := filepath.Rel(sfull, dfull)
		if err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			c.errorf("cannot copy a directory, '%s', into itself, '%s'", src, dst)
			return
		}
	}
	c.copyPath(src, sfull, dst, dfull, fi, co)
}

// copyPath copies one file, symlink or directory tree.
func (c *cmd) copyPath(src, sfull, dst, dfull string, fi fs.FileInfo, co *cpOpts) bool {
	dfi, derr := os.Lstat(dfull)
	exists := derr == nil
	if exists && os.SameFile(mustStat(sfull), mustStat(dfull)) && !fi.IsDir() {
		if !(fi.Mode()&fs.ModeSymlink != 0 && dfi.Mode()&fs.ModeSymlink == 0) || co.deref != "P" {
			c.errorf("'%s' and '%s' are the same file", src, dst)
			return false
		}
	}
	switch {
	case fi.IsDir():
		if exists && !dfi.IsDir() {
			if st, err := os.Stat(dfull); err != nil || !st.IsDir() {
				c.errorf("cannot overwrite non-directory '%s' with directory '%s'", dst, src)
				return false
			}
		}
		created := false
		if !exists {
			if err := os.Mkdir(dfull, 0o700); err != nil {
				c.errorf("cannot create directory '%s': %s", dst, errText(err))
				return false
			}
			created = true
		}
		if co.verbose {
			c.out.WriteString("'" + src + "' -> '" + dst + "'\n")
		}
		ents, err := os.ReadDir(sfull)
		if err != nil {
			c.errorf("cannot access '%s': %s", src, errText(err))
			return false
		}
		ok := true
		for _, e := range ents {
			if c.broken() {
				return false
			}
			csrc, cdst := joinShown(src, e.Name()), joinShown(dst, e.Name())
			cs, cd := filepath.Join(sfull, e.Name()), filepath.Join(dfull, e.Name())
			stat := Lstat
			if co.deref == "L" {
				stat = Stat
			}
			cfi, err := stat(cs)
			if err != nil {
				c.errorf("cannot stat '%s': %s", csrc, errText(err))
				ok = false
				continue
			}
			if !c.copyPath(csrc, cs, cdst, cd, cfi, co) {
				ok = false
			}
		}
		if created || co.preserve {
			c.setAttrs(dst, dfull, fi, co, created)
		}
		return ok
	case co.noClobber && exists:
		return true
	case co.update && exists && !dfi.ModTime().Before(fi.ModTime()):
		return true
	}
	if exists && dfi.IsDir() {
		c.errorf("cannot overwrite directory '%s' with non-directory", dst)
		return false
	}
	if co.verbose {
		c.out.WriteString("'" + src + "' -> '" + dst + "'\n")
	}
	switch {
	case co.symLink:
		if exists && (co.force || co.forMove) {
			os.Remove(dfull)
		}
		if err := os.Symlink(src, dfull); err != nil {
			c.errorf("cannot create symbolic link '%s' to '%s': %s", dst, src, errText(err))
			return false
		}
		return true
	case co.hardLink:
		if exists && (co.force || co.forMove) {
			os.Remove(dfull)
		}
		if err := os.Link(sfull, dfull); err != nil {
			c.errorf("cannot create hard link '%s' to '%s': %s", dst, src, errText(err))
			return false
		}
		return true
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(sfull)
		if err != nil {
			c.errorf("cannot read symbolic link '%s': %s", src, errText(err))
			return false
		}
		if exists {
			os.Remove(dfull)
		}
		if err := os.Symlink(target, dfull); err != nil {
			c.errorf("cannot create symbolic link '%s': %s", dst, errText(err))
			return false
		}
		if co.preserve {
			if st := sysInfo(fi); true {
				Lchown(dfull, int(st.uid), int(st.gid))
			}
		}
		return true
	case !fi.Mode().IsRegular():
		c.errorf("cannot copy special file '%s'", src)
		return false
	}
	in, err := os.Open(sfull)
	if err != nil {
		c.errorf("cannot open '%s' for reading: %s", src, errText(err))
		return false
	}
	defer in.Close()
	if exists && dfi.Mode()&fs.ModeSymlink != 0 && co.deref == "P" && co.recursive {
		// cp -a onto a symlink replaces the link, not its target.
		os.Remove(dfull)
		exists = false
	}
	out, err := os.OpenFile(dfull, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil && exists && co.force {
		os.Remove(dfull)
		exists = false
		out, err = os.OpenFile(dfull, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	}
	if err != nil {
		c.errorf("cannot create regular file '%s': %s", dst, errText(err))
		return false
	}
	_, err = io.Copy(out, contextReader{c.ctx, in})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.errorf("error writing '%s': %s", dst, errText(err))
		return false
	}
	if !exists || co.preserve {
		c.setAttrs(dst, dfull, fi, co, !exists)
	}
	return true
}

func mustStat(p string) fs.FileInfo {
	fi, err := os.Stat(p)
	if err != nil {
		return nil
	}
	return fi
}

func joinShown(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// setAttrs gives a copy its mode (the source's, less the umask unless
// preserving) and, when preserving, its owner and times.
func (c *cmd) setAttrs(dst, dfull string, src fs.FileInfo, co *cpOpts, created bool) {
	mode := unixMode(src.Mode())
	if !co.preserve {
		mode &^= umask
		if !co.forMove {
			mode &= 0o777
		}
	}
	if co.preserve {
		st := sysInfo(src)
		if err := Lchown(dfull, int(st.uid), int(st.gid)); err != nil && !errors.Is(err, syscall.ENOSYS) {
			// Like GNU, failing to keep the owner is not an error for
			// a non-root user; here everyone is root, so report it.
			c.errorf("failed to preserve ownership for '%s': %s", dst, errText(err))
		}
	}
	if err := Chmod(dfull, goMode(mode)); err != nil {
		c.errorf("setting permissions for '%s': %s", dst, errText(err))
	}
	if co.preserve {
		atime := src.ModTime()
		os.Chtimes(dfull, atime, src.ModTime())
	}
}

func mv(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "fnivuTt:", long: map[string]string{
		"force": "f", "no-clobber": "n", "interactive": "i", "verbose": "v", "update?": "u",
		"no-target-directory": "T", "target-directory=": "t"}}, args[1:])
	if !ok {
		return code
	}
	pairs, ok := c.targets(o, operands)
	if !ok {
		return c.finish(1)
	}
	noClobber := o.last("f", "n", "i") == "n"
	for _, p := range pairs {
		if c.broken() {
			break
		}
		src, dst := p[0], p[1]
		sfull, dfull := c.abs(src), c.abs(dst)
		sfi, err := os.Lstat(sfull)
		if err != nil {
			c.errorf("cannot stat '%s': %s", src, errText(err))
			continue
		}
		dfi, derr := os.Lstat(dfull)
		if derr == nil {
			if os.SameFile(sfi, dfi) {
				c.errorf("'%s' and '%s' are the same file", src, dst)
				continue
			}
			if noClobber {
				continue
			}
			if o.has("u") && !dfi.ModTime().Before(sfi.ModTime()) {
				continue
			}
			if dfi.IsDir() && !sfi.IsDir() {
				c.errorf("cannot overwrite directory '%s' with non-directory", dst)
				continue
			}
			if !dfi.IsDir() && sfi.IsDir() {
				c.errorf("cannot overwrite non-directory '%s' with directory '%s'", dst, src)
				continue
			}
		}
		if sfi.IsDir() {
			if rel, err := filepath.Rel(sfull, dfull); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
				c.errorf("cannot move '%s' to a subdirectory of itself, '%s'", src, dst)
				continue
			}
		}
		// syscall.Rename, unlike os.Rename, may replace an empty
		// directory.
		err = syscall.Rename(sfull, dfull)
		if errors.Is(err, syscall.EXDEV) {
			// Across filesystems: copy everything, then remove.
			if derr == nil {
				os.RemoveAll(dfull)
			}
			co := &cpOpts{recursive: true, deref: "P", preserve: true, forMove: true}
			if c.copyPath(src, sfull, dst, dfull, sfi, co) {
				err = os.RemoveAll(sfull)
				if err != nil {
					c.errorf("cannot remove '%s': %s", src, errText(err))
				}
			}
			if o.has("v") {
				c.out.WriteString("renamed '" + src + "' -> '" + dst + "'\n")
			}
			continue
		}
		if err != nil {
			if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
				c.errorf("cannot move '%s' to '%s': Directory not empty", src, dst)
			} else {
				c.errorf("cannot move '%s' to '%s': %s", src, dst, errText(err))
			}
			continue
		}
		if o.has("v") {
			c.out.WriteString("renamed '" + src + "' -> '" + dst + "'\n")
		}
	}
	return c.done()
}
