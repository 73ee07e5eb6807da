package proc

import (
	"errors"
	"io/fs"
	"strconv"
)

// Errno is a WASI errno returned by a wasmbox_proc host function.
type Errno uint32

// The errno values the ABI uses (WASI's numbering).
const (
	EACCES  Errno = 2
	EAGAIN  Errno = 6
	EBADF   Errno = 8
	EINVAL  Errno = 28
	ENOENT  Errno = 44
	ENOEXEC Errno = 45
	ENOSYS  Errno = 52
	EPIPE   Errno = 64
)

var errnoNames = map[Errno]string{
	EACCES:  "permission denied",
	EAGAIN:  "resource temporarily unavailable",
	EBADF:   "bad file descriptor",
	EINVAL:  "invalid argument",
	ENOENT:  "no such file or directory",
	ENOEXEC: "exec format error",
	ENOSYS:  "not supported (no wasmbox_proc host module)",
	EPIPE:   "broken pipe",
}

func (e Errno) Error() string {
	if s, ok := errnoNames[e]; ok {
		return s
	}
	return "errno " + strconv.Itoa(int(e))
}

// Is lets errors.Is match e against the standard sentinel errors.
func (e Errno) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e == ENOENT
	case fs.ErrPermission:
		return e == EACCES
	case errors.ErrUnsupported:
		return e == ENOSYS
	}
	return false
}

// host is the wasmbox_proc host module as seen from Go: one method per
// ABI function, 0 for success. The wasip1 build calls the real imports;
// elsewhere every call returns ENOSYS. Tests replace it with a fake.
type host interface {
	spawn(req []byte) (pid uint32, e Errno)
	lastError() string
	write(pid uint32, b []byte) (int, Errno)
	read(pid uint32, stream int32, b []byte) (int, Errno)
	close(pid uint32, stream int32) Errno
	wait(pid uint32) (status uint32, e Errno)
	kill(pid uint32) Errno
	chmod(path string, mode uint32) Errno
	lchown(path string, uid, gid uint32) Errno
	stat(path string, follow bool, out *[16]byte) Errno
	task(delta int32) Errno
	ids() (uid, gid uint32, e Errno)
}

// sys is the host module in use.
var sys host = defaultHost{}
