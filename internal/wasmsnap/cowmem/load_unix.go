//go:build unix

package cowmem

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

// Load reads a memory image of size bytes from r into a file of its own
// that no path reaches (on Linux a sealed memfd: not even its descriptor
// can change it), checking it against its SHA-256 digest: an image
// truncated or tampered with in the store is refused, never mapped. A
// mapping of a file that another process may write is not safe to verify
// once and use: MAP_PRIVATE shows later writes to the file in every page
// not yet copied.
func Load(r io.Reader, size int64, digest [sha256.Size]byte) (*Image, error) {
	if size%int64(os.Getpagesize()) != 0 || size < 0 || size > 1<<32 {
		return nil, fmt.Errorf("cowmem: an image of %d bytes is not a whole number of pages of at most 4 GiB", size)
	}
	f, err := privateFile(size)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
	if err == nil && n != size {
		err = fmt.Errorf("cowmem: the image has %d bytes, want %d", n, size)
	}
	if err == nil && !bytes.Equal(h.Sum(nil), digest[:]) {
		err = fmt.Errorf("cowmem: the image's digest is sha256:%x, want sha256:%x", h.Sum(nil), digest)
	}
	if err == nil {
		err = seal(f)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Image{f: f, size: int(size)}, nil
}
