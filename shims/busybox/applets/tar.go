package applets

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func init() {
	register("tar", tarApplet)
}

var tarSpec = &optSpec{short: "cxtrudf:zjJavC:pOkhmPT:X:oZI:", usage: 2, long: map[string]string{
	"create": "c", "extract": "x", "get": "x", "list": "t", "file=": "f", "gzip": "z",
	"gunzip": "z", "ungzip": "z", "bzip2": "j", "xz": "J", "auto-compress": "a", "verbose": "v",
	"directory=": "C", "preserve-permissions": "p", "same-permissions": "p", "to-stdout": "O",
	"keep-old-files": "k", "dereference": "h", "touch": "m", "absolute-names": "P",
	"files-from=": "T", "exclude-from=": "X", "exclude=": "exclude", "strip-components=": "strip",
	"no-same-owner": "o", "same-owner": "same-owner", "no-same-permissions": "no-same-perms",
	"numeric-owner": "numeric-owner", "owner=": "owner", "group=": "group", "mtime=": "mtime",
	"sort=": "sort", "overwrite": "overwrite", "one-file-system": "one-file-system",
	"no-recursion": "no-recursion", "recursion": "recursion", "wildcards": "wildcards",
	"no-wildcards": "no-wildcards", "warning=": "warning", "totals": "totals",
	"mode=": "mode", "format=": "format", "anchored": "anchored", "ignore-zeros": "ignore-zeros",
	"use-compress-program=": "I", "compress": "Z", "uncompress": "Z", "skip-old-files": "skip-old",
	"no-overwrite-dir": "no-overwrite-dir", "delay-directory-restore": "delay", "checkpoint?": "checkpoint",
	"pax-option=": "pax-option", "xattrs": "xattrs", "no-xattrs": "no-xattrs", "acls": "acls",
	"no-acls": "no-acls", "selinux": "selinux", "no-selinux": "no-selinux", "unlink-first": "U",
}}

// tarArgs turns the old bundled form ("tar xzf a.tgz -C d") into options.
func tarArgs(args []string) []string {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return args
	}
	var out []string
	rest := args[1:]
	for _, ch := range args[0] {
		k := strings.IndexRune(tarSpec.short, ch)
		if k >= 0 && k+1 < len(tarSpec.short) && tarSpec.short[k+1] == ':' && len(rest) > 0 {
			out = append(out, "-"+string(ch), rest[0])
			rest = rest[1:]
			continue
		}
		out = append(out, "-"+string(ch))
	}
	return append(out, rest...)
}

type tarState struct {
	names        nameCache
	c            *cmd
	o            *opts
	verbose      bool
	vout         io.Writer
	status       int
	strip        int
	excludes     []string
	sameOwner    bool
	keepOld      bool
	toStdout     bool
	noMtime      bool
	absolute     bool
	warnedAbs    bool
	dirs         []tarDir
	ugsWidth     int
	mtime        time.Time
	numericOwner bool
}

type tarDir struct {
	full string
	hdr  *tar.Header
}

func tarApplet(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(tarSpec, tarArgs(args[1:]))
	if !ok {
		return code
	}
	t := &tarState{c: c, o: o, verbose: o.has("v"), vout: c.out, ugsWidth: 19,
		sameOwner: !o.has("o") || o.has("same-owner"), keepOld: o.has("k") || o.has("skip-old"),
		toStdout: o.has("O"), noMtime: o.has("m"), absolute: o.has("P"), numericOwner: o.has("numeric-owner")}
	if v, ok := o.val("strip"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c.fail(2, "Invalid number of elements: '%s'", v)
		}
		t.strip = n
	}
	t.excludes = o.all("exclude")
	for _, f := range o.all("X") {
		data, err := os.ReadFile(c.abs(f))
		if err != nil {
			return c.fail(2, "%s: Cannot open: %s", f, errText(err))
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" {
				t.excludes = append(t.excludes, l)
			}
		}
	}
	for _, f := range o.all("T") {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(c.stdin())
		} else {
			data, err = os.ReadFile(c.abs(f))
		}
		if err != nil {
			return c.fail(2, "%s: Cannot open: %s", f, errText(err))
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" {
				operands = append(operands, l)
			}
		}
	}
	if v, ok := o.val("mtime"); ok {
		tm, err := parseDate(v, time.Now(), c.zone())
		if err != nil {
			if fi, serr := Stat(c.abs(v)); serr == nil {
				tm = fi.ModTime()
			} else {
				return c.fail(2, "Substituting the current time for unknown time format '%s'", v)
			}
		}
		t.mtime = tm
	}
	if o.has("J") || o.has("Z") || o.has("I") {
		return c.fail(2, "this compression is not available in a box (gzip and bzip2 are)")
	}
	mode := o.last("c", "x", "t", "r", "u", "d")
	switch mode {
	case "":
		return c.fail(2, "You must specify one of the '-Acdtrux', '--delete' or '--test-label' options")
	case "r", "u", "d":
		return c.fail(2, "appending, updating and comparing archives are not supported")
	}
	archive := o.str("f", "-")
	if mode == "c" {
		return t.create(archive, operands)
	}
	return t.read(archive, operands, mode == "x")
}

func (t *tarState) errorf(format string, a ...any) {
	t.c.warnf(format, a...)
	t.status = 2
}

func (t *tarState) finish() int {
	if t.status != 0 {
		t.c.warnf("Exiting with failure status due to previous errors")
	}
	return t.c.finish(t.status)
}

// excluded reports whether a member name matches an --exclude pattern
// (against the whole name or any trailing part of it).
func (t *tarState) excluded(name string) bool {
	name = strings.TrimSuffix(name, "/")
	for _, p := range t.excludes {
		p = strings.TrimSuffix(p, "/")
		for n := name; ; {
			if fnmatch(p, n, false, false) {
				return true
			}
			i := strings.IndexByte(n, '/')
			if i < 0 {
				break
			}
			n = n[i+1:]
		}
		if fnmatch(p, baseName(name), false, false) {
			return true
		}
	}
	return false
}

// decompressor sniffs the archive's compression.
func decompressor(r *bufio.Reader) (io.Reader, error) {
	magic, _ := r.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(r)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(r), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, errors.New("xz compression is not available in a box")
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, errors.New("zstd compression is not available in a box")
	}
	return r, nil
}

func (t *tarState) read(archive string, names []string, extract bool) int {
	c := t.c
	var in io.Reader
	if archive == "-" {
		in = c.stdin()
	} else {
		f, err := os.Open(c.abs(archive))
		if err != nil {
			c.warnf("%s: Cannot open: %s", archive, errText(err))
			c.warnf("Error is not recoverable: exiting now")
			return c.finish(2)
		}
		defer f.Close()
		in = f
	}
	br := bufio.NewReaderSize(contextReader{c.ctx, in}, 64<<10)
	if _, err := br.Peek(1); err == io.EOF {
		c.warnf("This does not look like a tar archive")
		c.warnf("Exiting with failure status due to previous errors")
		return c.finish(2)
	}
	r, err := decompressor(br)
	if err != nil {
		c.warnf("%s", err)
		c.warnf("Error is not recoverable: exiting now")
		return c.finish(2)
	}
	if t.verbose && t.toStdout {
		t.vout = c.stderr()
	}
	dest := c.env.Dir
	if d, ok := t.o.val("C"); ok {
		dest = c.abs(d)
		if fi, err := os.Stat(dest); err != nil || !fi.IsDir() {
			if err == nil {
				err = fs.ErrInvalid
			}
			c.warnf("%s: Cannot open: %s", d, errText(err))
			c.warnf("Error is not recoverable: exiting now")
			return c.finish(2)
		}
	}
	found := make([]bool, len(names))
	tr := tar.NewReader(r)
	for !c.broken() {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, gzip.ErrHeader) || errors.Is(err, tar.ErrHeader) {
				c.warnf("This does not look like a tar archive")
			} else {
				c.warnf("%s", gzipErrText(err))
			}
			c.warnf("Exiting with failure status due to previous errors")
			return c.finish(2)
		}
		name := hdr.Name
		if len(names) > 0 {
			match := false
			for i, n := range names {
				n = strings.TrimSuffix(n, "/")
				clean := strings.TrimSuffix(name, "/")
				if clean == n || strings.HasPrefix(clean, n+"/") || fnmatch(n, clean, false, false) {
					match, found[i] = true, true
				}
			}
			if !match {
				continue
			}
		}
		if t.excluded(name) {
			continue
		}
		if !extract {
			t.list(hdr)
			continue
		}
		t.extract(tr, hdr, dest)
	}
	for i, ok := range found {
		if !ok {
			t.errorf("%s: Not found in archive", names[i])
		}
	}
	if extract {
		// Directory modes and times last, deepest first, so their
		// contents could be written.
		for i := len(t.dirs) - 1; i >= 0; i-- {
			d := t.dirs[i]
			Chmod(d.full, goMode(uint32(d.hdr.Mode)&0o7777))
			if !t.noMtime {
				os.Chtimes(d.full, d.hdr.ModTime, d.hdr.ModTime)
			}
		}
	}
	return t.finish()
}

func (t *tarState) list(hdr *tar.Header) {
	c := t.c
	if !t.verbose {
		c.out.WriteString(hdr.Name + "\n")
		return
	}
	fi := hdr.FileInfo()
	mode := modeString(fi.Mode())
	if hdr.Typeflag == tar.TypeLink {
		mode = "h" + mode[1:]
	}
	user, group := hdr.Uname, hdr.Gname
	if user == "" || t.numericOwner {
		user = strconv.Itoa(hdr.Uid)
	}
	if group == "" || t.numericOwner {
		group = strconv.Itoa(hdr.Gid)
	}
	size := strconv.FormatInt(hdr.Size, 10)
	if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
		size = fmt.Sprintf("%d,%d", hdr.Devmajor, hdr.Devminor)
	}
	pad := len(user) + 1 + len(group) + 1 + len(size)
	if pad > t.ugsWidth {
		t.ugsWidth = pad
	}
	stamp := hdr.ModTime.In(c.zone()).Format("2006-01-02 15:04")
	line := fmt.Sprintf("%s %s/%s %*s %s %s", mode, user, group, t.ugsWidth-pad+len(size), size, stamp, hdr.Name)
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		line += " -> " + hdr.Linkname
	case tar.TypeLink:
		line += " link to " + hdr.Linkname
	}
	c.out.WriteString(line + "\n")
}

// memberPath turns a member name into a safe relative path: leading
// slashes go, ".." is refused, --strip-components applies.
func (t *tarState) memberPath(name string) (string, bool) {
	if strings.HasPrefix(name, "/") && !t.absolute {
		if !t.warnedAbs {
			t.c.warnf("Removing leading `/' from member names")
			t.warnedAbs = true
		}
		name = strings.TrimLeft(name, "/")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			t.errorf("%s: Member name contains '..'", name)
			return "", false
		}
	}
	if t.strip > 0 {
		parts := strings.Split(strings.TrimSuffix(path.Clean(name), "/"), "/")
		if len(parts) <= t.strip {
			return "", false
		}
		name = strings.Join(parts[t.strip:], "/")
	}
	clean := path.Clean(name)
	if clean == "." || clean == "" {
		return ".", true
	}
	return clean, true
}

func (t *tarState) extract(tr *tar.Reader, hdr *tar.Header, dest string) {
	c := t.c
	rel, ok := t.memberPath(hdr.Name)
	if !ok {
		return
	}
	if t.toStdout {
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			if t.verbose {
				fmt.Fprintln(t.vout, hdr.Name)
			}
			io.Copy(c.out, tr)
		}
		return
	}
	if t.verbose {
		if t.vout == c.out {
			c.out.WriteString(hdr.Name + "\n")
		} else {
			fmt.Fprintln(t.vout, hdr.Name)
		}
	}
	full := filepath.Join(dest, rel)
	if t.absolute && filepath.IsAbs(hdr.Name) {
		full = filepath.Clean(hdr.Name)
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.errorf("%s: Cannot mkdir: %s", rel, errText(err))
		return
	}
	existing, lerr := os.Lstat(full)
	exists := lerr == nil
	if exists && hdr.Typeflag != tar.TypeDir {
		if t.keepOld {
			if !t.o.has("skip-old") {
				t.errorf("%s: Cannot open: File exists", rel)
			}
			return
		}
		if existing.IsDir() {
			if err := os.Remove(full); err != nil {
				t.errorf("%s: Cannot unlink: %s", rel, errText(err))
				return
			}
		} else {
			os.Remove(full)
		}
	}
	var err error
	switch hdr.Typeflag {
	case tar.TypeDir:
		if exists && !existing.IsDir() {
			os.Remove(full)
			exists = false
		}
		if !exists {
			err = os.Mkdir(full, 0o700)
		}
		if err == nil {
			t.dirs = append(t.dirs, tarDir{full: full, hdr: hdr})
			t.chown(full, hdr)
		}
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		var f *os.File
		f, err = os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil {
			t.chown(full, hdr)
			Chmod(full, goMode(uint32(hdr.Mode)&0o7777))
			if !t.noMtime {
				os.Chtimes(full, hdr.ModTime, hdr.ModTime)
			}
		}
	case tar.TypeSymlink:
		err = os.Symlink(hdr.Linkname, full)
		if err == nil {
			t.chown(full, hdr)
		}
	case tar.TypeLink:
		target, ok := t.memberPath(hdr.Linkname)
		if !ok {
			return
		}
		err = os.Link(filepath.Join(dest, target), full)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		t.errorf("%s: Cannot mknod: Operation not permitted", rel)
		return
	case tar.TypeXGlobalHeader, tar.TypeXHeader:
		return
	default:
		t.c.warnf("%s: Unknown file type '%c', extracted as normal file", rel, hdr.Typeflag)
		var f *os.File
		if f, err = os.Create(full); err == nil {
			_, err = io.Copy(f, tr)
			f.Close()
		}
	}
	if err != nil {
		what := "Cannot open"
		switch hdr.Typeflag {
		case tar.TypeDir:
			what = "Cannot mkdir"
		case tar.TypeSymlink:
			what = "Cannot create symlink to '" + hdr.Linkname + "'"
		case tar.TypeLink:
			what = "Cannot hard link to '" + hdr.Linkname + "'"
		}
		t.errorf("%s: %s: %s", rel, what, errText(err))
	}
}

// chown gives an extracted file its owner (by name when the box knows
// it), as tar does for root.
func (t *tarState) chown(full string, hdr *tar.Header) {
	if !t.sameOwner {
		return
	}
	uid, gid := hdr.Uid, hdr.Gid
	if !t.numericOwner {
		if u, _, ok := lookupUser(hdr.Uname); ok && hdr.Uname != "" {
			uid = int(u)
		}
		if g, ok := lookupGroup(hdr.Gname); ok && hdr.Gname != "" {
			gid = int(g)
		}
	}
	Lchown(full, uid, gid)
}
