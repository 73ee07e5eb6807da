package proc

import "github.com/wasmbox/wasmbox/shims/abi"

// Errno is a WASI errno returned by a wasmbox_proc host function.
type Errno = abi.Errno

// The errno values the ABI uses (WASI's numbering).
const (
	EACCES  = abi.EACCES
	EAGAIN  = abi.EAGAIN
	EBADF   = abi.EBADF
	EINVAL  = abi.EINVAL
	ENOENT  = abi.ENOENT
	ENOEXEC = abi.ENOEXEC
	ENOSYS  = abi.ENOSYS
	EPIPE   = abi.EPIPE
)

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
	stat(path string, follow bool, out *[abi.StatSize]byte) Errno
	task(delta int32) Errno
	ids() (uid, gid uint32, e Errno)
}

// sys is the host module in use.
var sys host = defaultHost{}
