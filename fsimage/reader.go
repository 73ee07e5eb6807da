package fsimage

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"slices"
	"strings"
)

// Image is one opened image. It implements [Tree]. Its methods are safe for
// concurrent use if the io.ReaderAt it was opened on is.
type Image struct {
	r       io.ReaderAt
	entries []Entry  // in index order: "." first, then depth-first by name
	paths   []string // the entries' paths, packed for binary search
	off     []int64  // data offset of each regular file and hard link
	end     []int32  // index just past each entry's subtree
}

var _ Tree = (*Image)(nil)

// Open reads the header, footer and index of the image of size bytes in r
// and checks all of it: contents are read lazily through r, by Content.
// Malformed input is an error wrapping ErrCorrupt that names what is wrong
// and where; Open never panics on it, and allocates memory in proportion to
// the bytes r actually holds, not to the counts the image claims.
//
// The contents themselves are not checksummed: their integrity is the job of
// the digest of the blob the image travels in.
func Open(r io.ReaderAt, size int64) (*Image, error) {
	if r == nil {
		return nil, errors.New("fsimage: Open with a nil io.ReaderAt")
	}
	if least := int64(headerSize + indexHeaderSize + recordSize + footerSize); size < least {
		return nil, corrupt("image is %d bytes, smaller than the smallest image (%d bytes)", size, least)
	}
	var hdr [headerSize]byte
	if err := readAt(r, hdr[:], 0, "header"); err != nil {
		return nil, err
	}
	if string(hdr[:8]) != headerMagic {
		return nil, corrupt("bad magic %q at offset 0: not an fsimage", hdr[:8])
	}
	if v := le.Uint32(hdr[8:]); v != Version {
		return nil, fmt.Errorf("%w: format version %d, this reader supports version %d", ErrCorrupt, v, Version)
	}
	if f := le.Uint32(hdr[12:]); f != 0 {
		return nil, corrupt("unknown header flags %#x", f)
	}

	var ftr [footerSize]byte
	footerOff := size - footerSize
	if err := readAt(r, ftr[:], footerOff, "footer"); err != nil {
		return nil, err
	}
	if string(ftr[24:]) != footerMagic {
		return nil, corrupt("no footer magic at offset %d (truncated image?)", footerOff+24)
	}
	indexOff, indexLen := le.Uint64(ftr[0:]), le.Uint64(ftr[8:])
	sum, reserved := le.Uint32(ftr[16:]), le.Uint32(ftr[20:])
	if reserved != 0 {
		return nil, corrupt("footer reserved field is %#x, want 0", reserved)
	}
	if indexOff < headerSize || indexOff > uint64(footerOff) {
		return nil, corrupt("index offset %d is outside the image (%d..%d)", indexOff, headerSize, footerOff)
	}
	if indexLen != uint64(footerOff)-indexOff {
		return nil, corrupt("index at offset %d is %d bytes long, but the footer starts at %d (truncated image?)", indexOff, indexLen, footerOff)
	}
	if indexLen < indexHeaderSize+recordSize {
		return nil, corrupt("index is %d bytes, too small for the root entry", indexLen)
	}
	idx, err := readChunked(r, int64(indexOff), int64(indexLen))
	if err != nil {
		return nil, err
	}
	if got := crc32.Checksum(idx, castagnoli); got != sum {
		return nil, corrupt("index checksum mismatch: footer says %08x, index hashes to %08x", sum, got)
	}
	img := &Image{r: r}
	if err := img.parseIndex(idx, int64(indexOff)); err != nil {
		return nil, err
	}
	return img, nil
}

// corrupt returns an error wrapping ErrCorrupt.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// readAt fills b from r at off; a short read means the image is shorter
// than it was said to be.
func readAt(r io.ReaderAt, b []byte, off int64, what string) error {
	n, err := r.ReadAt(b, off)
	if n >= len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corrupt("reading %s at offset %d: got %d of %d bytes (truncated image?)", what, off, n, len(b))
	}
	return fmt.Errorf("fsimage: reading %s at offset %d: %w", what, off, err)
}

// readChunked reads n bytes at off. Up to 16 MiB (an index of some 100,000
// entries) it allocates them at once; beyond, it grows the buffer as the
// data arrives, so that a size claimed by a corrupt footer over a sparse or
// lying io.ReaderAt costs no more memory than the reader really holds.
func readChunked(r io.ReaderAt, off, n int64) ([]byte, error) {
	const direct, chunk = 16 << 20, 4 << 20
	if n <= direct {
		b := make([]byte, n)
		return b, readAt(r, b, off, "index")
	}
	b := make([]byte, 0, chunk)
	for int64(len(b)) < n {
		c := int(min(chunk, n-int64(len(b))))
		start := len(b)
		b = slices.Grow(b, c)[:start+c]
		if err := readAt(r, b[start:], off+int64(start), "index"); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// parseIndex decodes and checks the index; dataEnd is where the data
// section ends (the index offset).
func (img *Image) parseIndex(idx []byte, dataEnd int64) error {
	count, strLen := le.Uint32(idx[0:]), le.Uint32(idx[4:])
	if v := le.Uint64(idx[8:]); v != 0 {
		return corrupt("index header reserved field is %#x, want 0", v)
	}
	if want := indexHeaderSize + uint64(count)*recordSize + uint64(strLen); want != uint64(len(idx)) {
		return corrupt("index header says %d entries and %d bytes of names (%d bytes of index), but the index is %d bytes",
			count, strLen, want, len(idx))
	}
	if count == 0 {
		return corrupt("index has no entries; the root directory is required")
	}
	if count > 1<<31-1 {
		return corrupt("index has %d entries, more than this reader handles", count)
	}
	n := int(count)
	recs := idx[indexHeaderSize : indexHeaderSize+n*recordSize]
	strtab := string(idx[indexHeaderSize+n*recordSize:])

	img.entries = make([]Entry, n)
	img.paths = make([]string, n)
	img.off = make([]int64, n)
	img.end = make([]int32, n)
	var (
		strCursor  uint32
		dataCursor = int64(headerSize)
		stack      = make([]int, 0, 32) // the chain of ancestors of entry i
		hardlinks  []int
	)
	for i := range n {
		var r record
		r.get(recs[i*recordSize:])
		bad := func(format string, args ...any) error {
			return corrupt("entry %d (%q): %s", i, img.entries[i].Path, fmt.Sprintf(format, args...))
		}

		// Names: the string table holds each path then its link
		// name, in entry order, with nothing in between.
		if r.pathOff != strCursor || r.pathLen > strLen-strCursor {
			return corrupt("entry %d: path at %d+%d in the string table, want offset %d within %d bytes",
				i, r.pathOff, r.pathLen, strCursor, strLen)
		}
		e := &img.entries[i]
		e.Path = strtab[strCursor : strCursor+r.pathLen]
		img.paths[i] = e.Path
		strCursor += r.pathLen
		if r.linkLen == 0 {
			if r.linkOff != 0 {
				return bad("empty link name with offset %d, want 0", r.linkOff)
			}
		} else {
			if r.linkOff != strCursor || r.linkLen > strLen-strCursor {
				return bad("link name at %d+%d in the string table, want offset %d within %d bytes",
					r.linkOff, r.linkLen, strCursor, strLen)
			}
			e.Linkname = strtab[strCursor : strCursor+r.linkLen]
			strCursor += r.linkLen
		}

		// Tree shape and order: the parent is on the chain of
		// ancestors of the previous entry (the entries popped from
		// it have ended their subtree; the last one popped is the
		// previous sibling), and siblings are sorted by name. That
		// is exactly the order comparePaths defines. Only the last
		// element of a path needs checking: the parent was checked
		// as an entry before.
		if i == 0 {
			if e.Path != "." {
				if why := validPath(e.Path); why != "" {
					return bad("invalid path: %s", why)
				}
				return bad(`the first entry must be the root directory "."`)
			}
		} else {
			if e.Path == "." {
				return bad("duplicate path")
			}
			parent, name := ".", e.Path
			if j := strings.LastIndexByte(e.Path, '/'); j >= 0 {
				parent, name = e.Path[:j], e.Path[j+1:]
			}
			prev := -1
			for len(stack) > 0 && img.entries[stack[len(stack)-1]].Path != parent {
				prev = stack[len(stack)-1]
				img.end[prev] = int32(i)
				stack = stack[:len(stack)-1]
			}
			if validName(name) != "" || len(stack) == 0 || parent == "." && len(name) != len(e.Path) {
				if why := validPath(e.Path); why != "" {
					return bad("invalid path: %s", why)
				}
			}
			if len(stack) == 0 {
				if _, ok := search(img.paths[:i], parent); ok {
					return bad("index not sorted: entry is not next to its parent directory %q", parent)
				}
				return bad("parent directory %q is missing", parent)
			}
			if pt := img.entries[stack[len(stack)-1]].Type; pt != TypeDir {
				return bad("parent %q is a %s, not a directory", parent, pt)
			}
			if prev >= 0 {
				// prev is a sibling: same parent, so its name
				// starts where this one's does.
				switch pn := img.entries[prev].Path[len(e.Path)-len(name):]; {
				case pn == name:
					return bad("duplicate path")
				case pn > name:
					return bad("index not sorted: entry comes after %q", img.entries[prev].Path)
				}
			}
		}
		stack = append(stack, i)

		e.Type = Type(r.typ)
		if e.Type < TypeReg || e.Type > TypeWhiteout {
			return bad("unknown type %d", r.typ)
		}
		if r.flags&^flagOpaque != 0 {
			return bad("unknown flags %#x", r.flags)
		}
		e.Opaque = r.flags&flagOpaque != 0
		if e.Opaque && e.Type != TypeDir {
			return bad("opaque flag on a %s", e.Type)
		}
		if r.reserved16 != 0 || r.reserved32 != 0 {
			return bad("reserved fields are %#x and %#x, want 0", r.reserved16, r.reserved32)
		}
		if r.mode&^unixMask != 0 {
			return bad("mode %#o has bits other than 07777", r.mode)
		}
		e.Mode = fileMode(r.mode)
		e.UID, e.GID = r.uid, r.gid
		if r.nsec >= 1e9 {
			return bad("mtime nanoseconds %d out of range", r.nsec)
		}
		if r.sec > maxUnixSec {
			return bad("mtime seconds %d out of range", r.sec)
		}
		e.ModTime = mtime(r.sec, r.nsec)

		if e.Type == TypeSymlink || e.Type == TypeHardlink {
			if e.Linkname == "" {
				return bad("%s with an empty target", e.Type)
			}
		} else if e.Linkname != "" {
			return bad("%s with a link name", e.Type)
		}
		switch e.Type {
		case TypeReg:
			// The data section is exactly the contents of the regular
			// files, in index order.
			switch {
			case r.dataOff < uint64(dataCursor):
				return bad("data at offset %d overlaps the previous file's data (ends at %d)", r.dataOff, dataCursor)
			case r.dataOff > uint64(dataCursor):
				return bad("data at offset %d leaves a gap after the previous file's data (ends at %d)", r.dataOff, dataCursor)
			case r.size > uint64(dataEnd-dataCursor):
				return bad("data at offset %d, %d bytes, runs past the data section (ends at %d)", r.dataOff, r.size, dataEnd)
			}
			img.off[i], e.Size = dataCursor, int64(r.size)
			dataCursor += e.Size
		case TypeHardlink:
			if why := validPath(e.Linkname); why != "" || e.Linkname == "." {
				return bad("invalid hard link target %q: %s", e.Linkname, why)
			}
			if r.size > uint64(dataEnd) || r.dataOff > uint64(dataEnd) {
				return bad("data at offset %d, %d bytes, outside the data section", r.dataOff, r.size)
			}
			img.off[i], e.Size = int64(r.dataOff), int64(r.size) // checked against the target below
			hardlinks = append(hardlinks, i)
		case TypeSymlink:
			if strings.IndexByte(e.Linkname, 0) >= 0 {
				return bad("symlink target contains a NUL byte")
			}
			fallthrough
		default:
			if r.size != 0 || r.dataOff != 0 {
				return bad("%s with data (offset %d, size %d)", e.Type, r.dataOff, r.size)
			}
		}

		if i == 0 && e.Type != TypeDir {
			return bad("the root is a %s, not a directory", e.Type)
		}
	}
	for _, j := range stack {
		img.end[j] = int32(n)
	}
	if strCursor != strLen {
		return corrupt("string table has %d bytes no entry uses", strLen-strCursor)
	}
	if dataCursor != dataEnd {
		return corrupt("data section has %d bytes after the last file's data (offsets %d..%d)", dataEnd-dataCursor, dataCursor, dataEnd)
	}
	for _, i := range hardlinks {
		e := &img.entries[i]
		t, ok := img.find(e.Linkname)
		switch {
		case !ok:
			return corrupt("entry %d (%q): hard link target %q is missing", i, e.Path, e.Linkname)
		case img.entries[t].Type != TypeReg:
			return corrupt("entry %d (%q): hard link target %q is a %s, not a regular file", i, e.Path, e.Linkname, img.entries[t].Type)
		case img.off[i] != img.off[t] || e.Size != img.entries[t].Size:
			return corrupt("entry %d (%q): data (offset %d, size %d) differs from hard link target %q's (offset %d, size %d)",
				i, e.Path, img.off[i], e.Size, e.Linkname, img.off[t], img.entries[t].Size)
		}
	}
	return nil
}

// find returns the index of the entry at p.
func (img *Image) find(p string) (int, bool) {
	return search(img.paths, p)
}

// search returns the position of p in paths, sorted by comparePaths.
func search(paths []string, p string) (int, bool) {
	lo, hi := 0, len(paths)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if comparePaths(paths[m], p) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(paths) && paths[lo] == p
}

// Lookup returns the entry at exactly p, without following symbolic links.
func (img *Image) Lookup(p string) (Entry, bool) {
	i, ok := img.find(p)
	if !ok {
		return Entry{}, false
	}
	return img.entries[i], true
}

// Children returns the direct children of the directory dir, sorted by
// name, whiteouts included.
func (img *Image) Children(dir string) ([]Entry, error) {
	i, ok := img.find(dir)
	if !ok {
		return nil, pathErr("children", dir, fs.ErrNotExist)
	}
	if img.entries[i].Type != TypeDir {
		return nil, pathErr("children", dir, ErrNotDir)
	}
	var out []Entry
	for j := i + 1; j < int(img.end[i]); j = int(img.end[j]) {
		out = append(out, img.entries[j])
	}
	return out, nil
}

// Content returns the data of the regular file p, or of the target of the
// hard link p, as a section of the io.ReaderAt the image was opened on.
func (img *Image) Content(p string) (*io.SectionReader, error) {
	i, ok := img.find(p)
	if !ok {
		return nil, pathErr("content", p, fs.ErrNotExist)
	}
	if t := img.entries[i].Type; t != TypeReg && t != TypeHardlink {
		return nil, pathErr("content", p, errNotRegular)
	}
	return io.NewSectionReader(img.r, img.off[i], img.entries[i].Size), nil
}

// Entries returns a copy of all the entries, the root "." first, then in
// the order fs.WalkDir visits them (sorted by name within each directory).
func (img *Image) Entries() []Entry {
	return slices.Clone(img.entries)
}
