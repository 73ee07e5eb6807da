package runtime

import (
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// The ABI returns WASI's errno numbers (shims/ABI.md), not wazero's own:
// a guest's libc (wasi-libc, Go's wasip1) reads them as WASI's.
func TestWASIErrno(t *testing.T) {
	for e, want := range map[experimentalsys.Errno]uint32{
		0:                             0,
		experimentalsys.ENOENT:        44,
		experimentalsys.EACCES:        2,
		experimentalsys.EPERM:         63,
		experimentalsys.ENOTDIR:       54,
		experimentalsys.EINVAL:        28,
		experimentalsys.ELOOP:         32,
		experimentalsys.EROFS:         69,
		experimentalsys.EISDIR:        31,
		experimentalsys.EEXIST:        20,
		experimentalsys.ENOTSUP:       58,
		experimentalsys.Errno(0xffff): 29, // unknown: EIO
	} {
		if got := wasiErrno(e); got != want {
			t.Errorf("wasiErrno(%v) = %d, want %d", e, got, want)
		}
	}
}
