//go:build !unix

package cowmem

import (
	"crypto/sha256"
	"errors"
	"io"

	"github.com/tetratelabs/wazero/experimental"
)

// Image is a memory image file opened for mapping.
type Image struct{ size int }

// Open fails: mapping needs Unix's mmap. Bake the memory into the module
// (wasmsnap.DataFromMemory) instead.
func Open(path string) (*Image, error) {
	return nil, errors.ErrUnsupported
}

// Size is the image's length in bytes.
func (im *Image) Size() int { return im.size }

// Close closes the image file.
func (im *Image) Close() error { return nil }

// Allocator returns nil: Open never returns an Image here.
func (im *Image) Allocator() experimental.MemoryAllocator { return nil }

// Load fails: mapping needs Unix's mmap.
func Load(r io.Reader, size int64, digest [sha256.Size]byte) (*Image, error) {
	return nil, errors.ErrUnsupported
}
