package runtime

import (
	"errors"
	"io"
)

// pageSize is the unit in which the writable layer holds file data. A
// page exists only where something was written: a hole (a seek past the
// end, a pwrite far out, an ftruncate that grows) costs nothing, as in a
// sparse file on disk.
const pageSize = 64 << 10

// maxFileSize bounds the size of a file of the writable layer. Guest
// offsets are int64: past this bound a write fails with EINVAL (WASI has
// no EFBIG in wazero's errno set) instead of overflowing an offset.
const maxFileSize = 1 << 40

var errFileTooLarge = errors.New("file size limit exceeded")

// content is the data of a regular file of the writable layer: its size
// and the pages written so far. A page's slice holds the bytes from the
// page's start up to the last one written in it, so a small file costs
// its size, not a page.
type content struct {
	size  int64
	pages map[int64][]byte
}

// cost is what the content holds in memory: what the run is charged.
func (c *content) cost() int64 {
	var n int64
	for _, p := range c.pages {
		n += int64(len(p))
	}
	return n
}

// readAt copies the bytes at off into b, zeros for holes, and returns
// how many there were before the end of the file.
func (c *content) readAt(b []byte, off int64) int {
	if off < 0 || off >= c.size {
		return 0
	}
	n := int(min(int64(len(b)), c.size-off))
	for done := 0; done < n; {
		at := off + int64(done)
		idx, in := at/pageSize, int(at%pageSize)
		chunk := min(n-done, pageSize-in)
		dst := b[done : done+chunk]
		page := c.pages[idx]
		copied := 0
		if in < len(page) {
			copied = copy(dst, page[in:])
		}
		clear(dst[copied:])
		done += chunk
	}
	return n
}

// growth is the extra memory writing len(b) bytes at off would take; it
// fails when the write would pass maxFileSize.
func (c *content) growth(n int, off int64) (int64, error) {
	if off < 0 || off > maxFileSize || int64(n) > maxFileSize-off {
		return 0, errFileTooLarge
	}
	var grow int64
	end := off + int64(n)
	for at := off; at < end; {
		idx, in := at/pageSize, at%pageSize
		chunk := min(end-at, pageSize-in)
		if need := in + chunk; need > int64(len(c.pages[idx])) {
			grow += need - int64(len(c.pages[idx]))
		}
		at += chunk
	}
	return grow, nil
}

// writeAt writes b at off; growth must have accepted it.
func (c *content) writeAt(b []byte, off int64) {
	if len(b) == 0 {
		return
	}
	if c.pages == nil {
		c.pages = map[int64][]byte{}
	}
	for done := 0; done < len(b); {
		at := off + int64(done)
		idx, in := at/pageSize, int(at%pageSize)
		chunk := min(len(b)-done, pageSize-in)
		page := c.pages[idx]
		if need := in + chunk; need > len(page) {
			if need <= cap(page) {
				page = page[:need]
			} else {
				grown := make([]byte, need, min(pageSize, max(need, 2*cap(page))))
				copy(grown, page)
				page = grown
			}
			c.pages[idx] = page
		}
		copy(page[in:], b[done:done+chunk])
		done += chunk
	}
	c.size = max(c.size, off+int64(len(b)))
}

// truncate sets the size: growing adds a hole, shrinking drops the pages
// and bytes past it. It returns the change in cost (zero or negative).
func (c *content) truncate(size int64) (int64, error) {
	if size < 0 || size > maxFileSize {
		return 0, errFileTooLarge
	}
	var freed int64
	if size < c.size {
		last := size / pageSize
		for idx, p := range c.pages {
			switch {
			case idx > last || (idx == last && size%pageSize == 0):
				freed += int64(len(p))
				delete(c.pages, idx)
			case idx == last && int64(len(p)) > size%pageSize:
				keep := int(size % pageSize)
				freed += int64(len(p) - keep)
				clear(p[keep:])
				c.pages[idx] = p[:keep]
			}
		}
	}
	c.size = size
	return -freed, nil
}

// reset empties the content (O_TRUNC) and returns the change in cost.
func (c *content) reset() int64 {
	freed := c.cost()
	c.size, c.pages = 0, nil
	return -freed
}

// bytes returns the whole content, holes as zeros.
func (c *content) bytes() []byte {
	b := make([]byte, c.size)
	c.readAt(b, 0)
	return b
}

// reader reads the content from the start, holes as zeros, without
// materializing it.
func (c *content) reader() io.Reader {
	return io.NewSectionReader(readerAtFunc(func(b []byte, off int64) (int, error) {
		n := c.readAt(b, off)
		if n < len(b) {
			return n, io.EOF
		}
		return n, nil
	}), 0, c.size)
}

type readerAtFunc func([]byte, int64) (int, error)

func (f readerAtFunc) ReadAt(b []byte, off int64) (int, error) { return f(b, off) }
