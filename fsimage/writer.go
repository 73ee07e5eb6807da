package fsimage

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Writer builds one image. Add validates each entry on its own; WriteTo
// checks the entries against each other, fills in what is implied and
// streams the image out. The output depends only on the set of entries and
// their contents, never on the order of the Add calls.
//
// A Writer keeps the entries and the open functions, not the contents: each
// regular file is opened, copied and closed in turn during WriteTo. A Writer
// is not safe for concurrent use.
type Writer struct {
	entries map[string]pending
}

type pending struct {
	e    Entry
	open func() (io.ReadCloser, error)
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer {
	return &Writer{entries: make(map[string]pending)}
}

// Add adds one entry. open yields the contents of a regular file, exactly
// e.Size bytes; it is called once per WriteTo, and may be nil for an empty
// regular file. It must be nil for every other type.
//
// Add rejects an invalid entry: a path that is not slash-separated, clean and
// relative (no "..", no leading "/", no empty element), a path added before,
// an unknown type, Mode bits other than the permissions, setuid, setgid and
// sticky, a field that does not belong to the type (Size, Linkname, Opaque),
// an empty symlink target, or a hard link target that is not a valid path.
// Whether a hard link's target exists, and the parents of each entry, are
// checked by WriteTo.
func (w *Writer) Add(e Entry, open func() (io.ReadCloser, error)) error {
	if err := checkEntry(e, open != nil); err != nil {
		return err
	}
	if _, dup := w.entries[e.Path]; dup {
		return entryError(e.Path, "added twice")
	}
	w.entries[e.Path] = pending{e: e, open: open}
	return nil
}

// AddBytes adds an entry whose contents are data. For a regular file, Size
// is set to len(data) (a non-zero Size that differs is an error); for every
// other type data must be empty. The Writer keeps data, not a copy: it must
// not change until the last WriteTo returns.
func (w *Writer) AddBytes(e Entry, data []byte) error {
	if e.Type != TypeReg {
		if len(data) > 0 {
			return entryError(e.Path, "%s entry with %d bytes of data", e.Type, len(data))
		}
		return w.Add(e, nil)
	}
	if e.Size != 0 && e.Size != int64(len(data)) {
		return entryError(e.Path, "Size is %d but data is %d bytes", e.Size, len(data))
	}
	e.Size = int64(len(data))
	return w.Add(e, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// checkEntry validates one entry on its own.
func checkEntry(e Entry, hasOpen bool) error {
	if why := validPath(e.Path); why != "" {
		return entryError(e.Path, "%s: want a clean, relative, slash-separated path", why)
	}
	if e.Mode&^modeMask != 0 {
		return entryError(e.Path, "mode %v (%#o) has bits other than permissions, setuid, setgid and sticky: %#o",
			e.Mode, uint32(e.Mode), uint32(e.Mode&^modeMask))
	}
	if e.Opaque && e.Type != TypeDir {
		return entryError(e.Path, "Opaque is only for directories, not %s", e.Type)
	}
	if e.Path == "." && e.Type != TypeDir {
		return entryError(e.Path, "the root must be a directory, not %s", e.Type)
	}
	if e.Type != TypeReg && hasOpen {
		return entryError(e.Path, "%s entry with an open function: contents are for regular files", e.Type)
	}
	switch e.Type {
	case TypeReg:
		if e.Size < 0 {
			return entryError(e.Path, "negative Size %d", e.Size)
		}
		if e.Size > 0 && !hasOpen {
			return entryError(e.Path, "Size is %d but no open function was given", e.Size)
		}
	case TypeDir, TypeWhiteout:
	case TypeSymlink:
		if e.Linkname == "" {
			return entryError(e.Path, "symlink has an empty target")
		}
		if strings.IndexByte(e.Linkname, 0) >= 0 {
			return entryError(e.Path, "symlink target contains a NUL byte")
		}
	case TypeHardlink:
		if why := validPath(e.Linkname); why != "" {
			return entryError(e.Path, "hard link target %q: %s", e.Linkname, why)
		}
		if e.Linkname == "." || e.Linkname == e.Path {
			return entryError(e.Path, "hard link to %q: a hard link must name a regular file other than itself", e.Linkname)
		}
		if e.Size < 0 {
			return entryError(e.Path, "negative Size %d", e.Size)
		}
	default:
		return entryError(e.Path, "unknown type %s", e.Type)
	}
	if e.Type != TypeReg && e.Type != TypeHardlink && e.Size != 0 {
		return entryError(e.Path, "%s entry with Size %d", e.Type, e.Size)
	}
	if e.Type != TypeSymlink && e.Type != TypeHardlink && e.Linkname != "" {
		return entryError(e.Path, "%s entry with Linkname %q", e.Type, e.Linkname)
	}
	return nil
}

// item is one entry of the image being written, with its data offset.
type item struct {
	pending
	off int64
}

// layout returns every entry of the image in index order, with the implied
// parents added and the hard links and data offsets filled in, and the end
// of the data section, where the index starts.
func (w *Writer) layout() ([]*item, int64, error) {
	paths := make([]string, 0, len(w.entries))
	for p := range w.entries {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, comparePaths)

	all := make(map[string]*item, len(w.entries)+1)
	for p, pe := range w.entries {
		all[p] = &item{pending: pe}
	}
	implied := func(p string) *item {
		return &item{pending: pending{e: Entry{
			Path: p, Type: TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0).UTC(),
		}}}
	}
	if _, ok := all["."]; !ok {
		all["."] = implied(".")
	}
	// Parents sort before their children, so when p is reached every
	// explicit ancestor has been checked and had its own parents added.
	for _, p := range paths {
		if p == "." {
			continue
		}
		for d := parentDir(p); ; d = parentDir(d) {
			if it, ok := all[d]; ok {
				if it.e.Type != TypeDir {
					return nil, 0, entryError(p, "parent %q is a %s, not a directory", d, it.e.Type)
				}
				break
			}
			all[d] = implied(d)
		}
	}

	list := make([]*item, 0, len(all))
	for _, it := range all {
		list = append(list, it)
	}
	slices.SortFunc(list, func(a, b *item) int { return comparePaths(a.e.Path, b.e.Path) })

	off := int64(headerSize)
	for _, it := range list {
		if it.e.Type != TypeReg {
			continue
		}
		if it.e.Size > math.MaxInt64-off {
			return nil, 0, entryError(it.e.Path, "Size %d makes the image larger than 2^63 bytes", it.e.Size)
		}
		it.off = off
		off += it.e.Size
	}
	for _, it := range list {
		if it.e.Type != TypeHardlink {
			continue
		}
		t, ok := all[it.e.Linkname]
		switch {
		case !ok:
			return nil, 0, entryError(it.e.Path, "hard link target %q is not in the image", it.e.Linkname)
		case t.e.Type != TypeReg:
			return nil, 0, entryError(it.e.Path, "hard link target %q is a %s, not a regular file", it.e.Linkname, t.e.Type)
		case it.e.Size != 0 && it.e.Size != t.e.Size:
			return nil, 0, entryError(it.e.Path, "Size is %d but hard link target %q has %d bytes", it.e.Size, it.e.Linkname, t.e.Size)
		}
		it.e.Size = t.e.Size
		it.off = t.off
	}
	return list, off, nil
}

// index encodes the index of list: header, records, string table.
func index(list []*item) ([]byte, error) {
	if uint64(len(list)) > math.MaxUint32 {
		return nil, fmt.Errorf("fsimage: %d entries, more than the format's limit of 2^32-1", len(list))
	}
	var strLen uint64
	for _, it := range list {
		strLen += uint64(len(it.e.Path)) + uint64(len(it.e.Linkname))
	}
	if strLen > math.MaxUint32 {
		return nil, fmt.Errorf("fsimage: %d bytes of path and link names, more than the format's limit of 2^32-1", strLen)
	}
	recEnd := indexHeaderSize + len(list)*recordSize
	b := make([]byte, recEnd, recEnd+int(strLen))
	le.PutUint32(b[0:], uint32(len(list)))
	le.PutUint32(b[4:], uint32(strLen))
	var cursor uint32
	for i, it := range list {
		e := &it.e
		r := record{
			pathOff: cursor,
			pathLen: uint32(len(e.Path)),
			typ:     uint8(e.Type),
			mode:    unixMode(e.Mode),
			uid:     e.UID,
			gid:     e.GID,
			sec:     e.ModTime.Unix(),
			nsec:    uint32(e.ModTime.Nanosecond()),
		}
		cursor += r.pathLen
		b = append(b, e.Path...)
		if e.Linkname != "" {
			r.linkOff, r.linkLen = cursor, uint32(len(e.Linkname))
			cursor += r.linkLen
			b = append(b, e.Linkname...)
		}
		if e.Opaque {
			r.flags |= flagOpaque
		}
		if e.Type == TypeReg || e.Type == TypeHardlink {
			r.size, r.dataOff = uint64(e.Size), uint64(it.off)
		}
		r.put(b[indexHeaderSize+i*recordSize:])
	}
	return b, nil
}

// WriteTo writes the image to out and returns the number of bytes written.
// It adds the missing parent directories (and the root ".") with mode 0755,
// uid and gid 0 and ModTime the Unix epoch, fills in the Size of each hard
// link, and opens each regular file's contents in turn; contents of a length
// other than Entry.Size are an error. WriteTo may be called more than once.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	list, indexOff, err := w.layout()
	if err != nil {
		return 0, err
	}
	idx, err := index(list)
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: out}
	bw := bufio.NewWriterSize(cw, 64<<10)

	var hdr [headerSize]byte
	copy(hdr[:], headerMagic)
	le.PutUint32(hdr[8:], Version)
	bw.Write(hdr[:]) // errors are sticky in bufio.Writer; checked at Flush
	for _, it := range list {
		if it.e.Type != TypeReg {
			continue
		}
		if err := copyContent(bw, it); err != nil {
			bw.Flush()
			return cw.n, err
		}
	}
	bw.Write(idx)
	var ftr [footerSize]byte
	le.PutUint64(ftr[0:], uint64(indexOff))
	le.PutUint64(ftr[8:], uint64(len(idx)))
	le.PutUint32(ftr[16:], crc32.Checksum(idx, castagnoli))
	copy(ftr[24:], footerMagic)
	bw.Write(ftr[:])
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("fsimage: writing image: %w", err)
	}
	return cw.n, nil
}

// copyContent streams one regular file's contents and checks its length.
func copyContent(dst io.Writer, it *item) error {
	p, size := it.e.Path, it.e.Size
	if it.open == nil {
		return nil // Add allows this only for Size 0
	}
	rc, err := it.open()
	if err != nil {
		return fmt.Errorf("fsimage: opening contents of %q: %w", p, err)
	}
	src := &errReader{r: rc}
	n, err := io.CopyN(dst, src, size)
	switch {
	case src.err != nil:
		err = fmt.Errorf("fsimage: reading contents of %q: %w", p, src.err)
	case err == io.EOF:
		err = entryError(p, "contents are %d bytes, Size is %d", n, size)
	case err != nil:
		err = fmt.Errorf("fsimage: writing contents of %q: %w", p, err)
	default:
		var one [1]byte
		if k, _ := io.ReadFull(src, one[:]); k > 0 {
			err = entryError(p, "contents are longer than Size %d", size)
		} else if src.err != nil {
			err = fmt.Errorf("fsimage: reading contents of %q: %w", p, src.err)
		}
	}
	if cerr := rc.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("fsimage: closing contents of %q: %w", p, cerr)
	}
	return err
}

// errReader remembers the first read error other than io.EOF, to tell the
// content's errors from the output's.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
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
