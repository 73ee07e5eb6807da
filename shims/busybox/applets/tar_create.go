package applets

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// tarWriter adds files to an archive.
type tarWriter struct {
	*tarState
	tw      *tar.Writer
	links   map[[2]uint64]string // hard links: first name of each inode
	archive fs.FileInfo          // the archive itself, never added
	deref   bool
	recurse bool
}

func (t *tarState) create(archive string, operands []string) int {
	c := t.c
	if len(operands) == 0 {
		return c.fail(2, "Cowardly refusing to create an empty archive")
	}
	var out io.Writer = c.out
	var file *os.File
	if archive != "-" {
		f, err := os.OpenFile(c.abs(archive), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666&^umask)
		if err != nil {
			c.warnf("%s: Cannot open: %s", archive, errText(err))
			c.warnf("Error is not recoverable: exiting now")
			return c.finish(2)
		}
		file = f
		out = f
	} else if t.verbose {
		t.vout = c.stderr()
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	var w io.Writer = bw
	var zw *gzip.Writer
	gz := t.o.has("z")
	if t.o.has("a") && (strings.HasSuffix(archive, ".gz") || strings.HasSuffix(archive, ".tgz")) {
		gz = true
	}
	if t.o.has("j") {
		c.warnf("bzip2 compression is not available in a box (gzip is)")
		return c.finish(2)
	}
	if gz {
		zw = gzip.NewWriter(bw)
		zw.OS = 3
		w = zw
	}
	// Like GNU tar, pad the archive to whole 10 KiB records.
	cw := &countWriter{w: w}
	tw := &tarWriter{tarState: t, tw: tar.NewWriter(cw), links: map[[2]uint64]string{},
		deref: t.o.has("h"), recurse: !t.o.has("no-recursion")}
	if file != nil {
		tw.archive, _ = file.Stat()
	}
	// -C may change directory between operands ("tar -C a x -C b y");
	// the option parser collected them in order, so honour the last one
	// given before the operands.
	base := c.env.Dir
	if d, ok := t.o.val("C"); ok {
		base = c.abs(d)
	}
	for _, name := range operands {
		if c.broken() {
			break
		}
		full := name
		if !filepath.IsAbs(name) {
			full = filepath.Join(base, name)
		}
		tw.add(name, full, true)
	}
	err := tw.tw.Close()
	if rem := cw.n % 10240; err == nil && rem != 0 {
		_, err = io.CopyN(cw, zeroReader{}, 10240-rem)
	}
	if zw != nil && err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && c.outw.err == nil {
		t.errorf("%s: Cannot write: %s", archive, errText(err))
	}
	return t.finish()
}

func (w *tarWriter) add(name, full string, top bool) {
	t := w.tarState
	c := t.c
	if t.excluded(name) {
		return
	}
	stat := Lstat
	if w.deref {
		stat = Stat
	}
	fi, err := stat(full)
	if err != nil {
		t.errorf("%s: Cannot stat: %s", name, errText(err))
		return
	}
	if w.archive != nil {
		if st, err := os.Stat(full); err == nil && os.SameFile(st, w.archive) {
			c.warnf("%s: file is the archive; not dumped", name)
			return
		}
	}
	member := name
	if !t.absolute {
		trimmed := strings.TrimLeft(member, "/")
		if trimmed != member {
			if !t.warnedAbs {
				c.warnf("Removing leading `/' from member names")
				t.warnedAbs = true
			}
			member = trimmed
			if member == "" {
				member = "."
			}
		}
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		link, _ = os.Readlink(full)
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		t.errorf("%s: %s", name, err)
		return
	}
	hdr.Name = member
	if fi.IsDir() && !strings.HasSuffix(hdr.Name, "/") {
		hdr.Name += "/"
	}
	hdr.Mode = int64(unixMode(fi.Mode()))
	st := sysInfo(fi)
	hdr.Uid, hdr.Gid = int(st.uid), int(st.gid)
	hdr.Uname, hdr.Gname = t.names.user(st.uid), t.names.group(st.gid)
	if u, ok := t.o.val("owner"); ok {
		if id, _, found := lookupUser(strings.TrimPrefix(u, "+")); found {
			hdr.Uid, hdr.Uname = int(id), userName(id)
		}
	}
	if g, ok := t.o.val("group"); ok {
		if id, found := lookupGroup(strings.TrimPrefix(g, "+")); found {
			hdr.Gid, hdr.Gname = int(id), groupName(id)
		}
	}
	if t.numericOwner {
		hdr.Uname, hdr.Gname = "", ""
	}
	if !t.mtime.IsZero() {
		hdr.ModTime = t.mtime
	}
	hdr.ModTime = hdr.ModTime.Truncate(1e9)
	hdr.AccessTime, hdr.ChangeTime = hdr.ModTime, hdr.ModTime
	hdr.Format = tar.FormatUnknown
	if fi.Mode().IsRegular() && st.nlink > 1 && st.ino != 0 {
		key := [2]uint64{st.dev, st.ino}
		if first, ok := w.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			w.links[key] = member
		}
	}
	if t.verbose {
		if t.vout == c.out {
			c.out.WriteString(hdr.Name + "\n")
		} else {
			io.WriteString(t.vout, hdr.Name+"\n")
		}
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		t.errorf("%s: %s", name, err)
		return
	}
	if hdr.Typeflag == tar.TypeReg {
		f, err := os.Open(full)
		if err != nil {
			t.errorf("%s: Cannot open: %s", name, errText(err))
			// Keep the archive consistent: pad the promised size.
			io.CopyN(w.tw, zeroReader{}, hdr.Size)
			return
		}
		n, err := io.Copy(w.tw, io.LimitReader(contextReader{c.ctx, f}, hdr.Size))
		f.Close()
		if err == nil && n < hdr.Size {
			t.errorf("%s: File shrank by %d bytes; padding with zeros", name, hdr.Size-n)
			io.CopyN(w.tw, zeroReader{}, hdr.Size-n)
		} else if err != nil {
			t.errorf("%s: Read error: %s", name, errText(err))
		}
	}
	if fi.IsDir() && w.recurse {
		ents, err := os.ReadDir(full)
		if err != nil {
			t.errorf("%s: Cannot open: %s", name, errText(err))
			return
		}
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, n := range names {
			if c.broken() {
				return
			}
			w.add(joinShown(name, n), filepath.Join(full, n), false)
		}
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
