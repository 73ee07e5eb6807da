package cowmem

import (
	"os"

	"golang.org/x/sys/unix"
)

func privateFile(size int64) (*os.File, error) {
	fd, err := unix.MemfdCreate("wasmsnap-image", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "memfd:wasmsnap-image"), nil
}

// seal makes the memfd's contents and size final.
func seal(f *os.File) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL)
	return err
}
