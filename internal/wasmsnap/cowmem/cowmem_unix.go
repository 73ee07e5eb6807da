//go:build unix

package cowmem

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// Image is a memory image file opened for mapping.
type Image struct {
	f    *os.File
	size int
}

// Open opens the memory image at path. Its size must be a whole number of
// the system's pages (Wasm pages of 64 KiB always are).
func Open(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size()%int64(os.Getpagesize()) != 0 || fi.Size() > 1<<32 {
		f.Close()
		return nil, fmt.Errorf("cowmem: %s: %d bytes is not a whole number of pages of at most 4 GiB", path, fi.Size())
	}
	return &Image{f: f, size: int(fi.Size())}, nil
}

// Size is the image's length in bytes.
func (im *Image) Size() int { return im.size }

// Close closes the image file; memories allocated from it stay valid.
func (im *Image) Close() error { return im.f.Close() }

// Allocator returns the allocator to pass to experimental.WithMemoryAllocator.
// Each memory it allocates reserves max bytes of address space (nothing is
// committed there until used), maps the image privately at its start and
// grows by making more of the reservation accessible: the memory never
// moves. Reallocate fails (returns nil) above max, and below the memory's
// current length (Wasm memories do not shrink); the first length may be
// below the image's size (a module's minimum, grown by the host to the
// image's before it runs), the image then shows as the memory grows.
func (im *Image) Allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(cap, max uint64) experimental.LinearMemory {
		return &memory{im: im, max: max}
	})
}

type memory struct {
	im   *Image
	max  uint64
	buf  []byte // the reservation, mapped on first Reallocate
	len  int    // bytes accessible from the start of buf
	size int    // the memory's length
}

func (m *memory) map1() error {
	reserve := int(m.max)
	if reserve < m.im.size {
		reserve = m.im.size
	}
	if reserve == 0 {
		reserve = os.Getpagesize()
	}
	buf, err := unix.Mmap(-1, 0, reserve, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return err
	}
	if m.im.size > 0 {
		_, err := unix.MmapPtr(int(m.im.f.Fd()), 0, unsafe.Pointer(&buf[0]), uintptr(m.im.size),
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
		if err != nil {
			unix.Munmap(buf)
			return err
		}
	}
	m.buf = buf
	m.len = m.im.size
	return nil
}

// Reallocate implements experimental.LinearMemory.
func (m *memory) Reallocate(size uint64) []byte {
	if m.buf == nil {
		if size > m.max && m.max != 0 || m.map1() != nil {
			return nil
		}
	}
	if size > uint64(len(m.buf)) {
		return nil
	}
	if n := int(size); n > m.len {
		// Whole pages past what is accessible become read-write (and zero).
		page := os.Getpagesize()
		end := (n + page - 1) / page * page
		if end > len(m.buf) {
			end = len(m.buf)
		}
		if err := unix.Mprotect(m.buf[m.len:end], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil
		}
		m.len = end
	}
	if int(size) < m.size {
		return nil // Wasm memories do not shrink
	}
	// A first size below the image's is the minimum of a module that
	// the host grows to the image before running it (wasmsnap's
	// Restorable): the image is mapped whole, and shows as it grows.
	m.size = int(size)
	return m.buf[:size]
}

// Free implements experimental.LinearMemory.
func (m *memory) Free() {
	if m.buf != nil {
		unix.Munmap(m.buf)
		m.buf = nil
	}
}
