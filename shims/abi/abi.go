// Package abi is the process ABI of shims/ABI.md in Go: the host module's
// name, the errno values, the spawn request, the stat record and the pipe
// between a parent and a child. The host side (runtime), the guest side
// (shims/busybox/proc, GOOS=wasip1) and the tests' small hosts all use it,
// so that they cannot drift apart.
//
// It imports only the standard library and builds for every GOOS.
package abi

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"strconv"
)

// ModuleName is the import module name of the host functions.
const ModuleName = "wasmbox_proc"

// The host functions, by their export names.
const (
	FuncSpawn     = "spawn"
	FuncLastError = "last_error"
	FuncWrite     = "write"
	FuncRead      = "read"
	FuncClose     = "close"
	FuncWait      = "wait"
	FuncKill      = "kill"
	FuncTask      = "task"
	FuncChmod     = "chmod"
	FuncLchown    = "lchown"
	FuncStat      = "stat"
	FuncIDs       = "ids"
)

// Errno is a WASI errno, as every host function returns it (0: success).
type Errno uint32

// The errno values (WASI's numbering).
const (
	ESUCCESS     Errno = 0
	EACCES       Errno = 2
	EAGAIN       Errno = 6
	EBADF        Errno = 8
	EEXIST       Errno = 20
	EFAULT       Errno = 21
	EINTR        Errno = 27
	EINVAL       Errno = 28
	EIO          Errno = 29
	EISDIR       Errno = 31
	ELOOP        Errno = 32
	ENAMETOOLONG Errno = 37
	ENOENT       Errno = 44
	ENOEXEC      Errno = 45
	ENOSYS       Errno = 52
	ENOTDIR      Errno = 54
	ENOTEMPTY    Errno = 55
	ENOTSUP      Errno = 58
	EPERM        Errno = 63
	EPIPE        Errno = 64
	ERANGE       Errno = 68
	EROFS        Errno = 69
)

var errnoNames = map[Errno]string{
	EACCES:       "permission denied",
	EAGAIN:       "resource temporarily unavailable",
	EBADF:        "bad file descriptor",
	EEXIST:       "file exists",
	EFAULT:       "bad address",
	EINTR:        "interrupted system call",
	EINVAL:       "invalid argument",
	EIO:          "input/output error",
	EISDIR:       "is a directory",
	ELOOP:        "too many levels of symbolic links",
	ENAMETOOLONG: "file name too long",
	ENOENT:       "no such file or directory",
	ENOEXEC:      "exec format error",
	ENOSYS:       "not supported (no wasmbox_proc host module)",
	ENOTDIR:      "not a directory",
	ENOTEMPTY:    "directory not empty",
	ENOTSUP:      "operation not supported",
	EPERM:        "operation not permitted",
	EPIPE:        "broken pipe",
	ERANGE:       "result too large",
	EROFS:        "read-only file system",
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
		return e == EACCES || e == EPERM
	case fs.ErrExist:
		return e == EEXIST
	case errors.ErrUnsupported:
		return e == ENOSYS || e == ENOTSUP
	}
	return false
}

// MaxSpawnRequest bounds the JSON of one spawn request (argv + env).
const MaxSpawnRequest = 4 << 20

// SpawnRequest is spawn's request, sent as JSON.
type SpawnRequest struct {
	Path  string   `json:"path"`  // absolute box path of the program
	Argv  []string `json:"argv"`  // argv[0] included, passed as is
	Env   []string `json:"env"`   // KEY=VALUE
	Dir   string   `json:"dir"`   // working directory, absolute
	Stdio [3]int   `json:"stdio"` // StdioPipe, StdioNull, or a stream of the parent
}

// Values of SpawnRequest.Stdio besides the parent's own streams 0, 1, 2.
const (
	StdioPipe = -1 // a pipe to the parent
	StdioNull = -2 // nothing: stdin at end of file, output discarded
)

// The streams of read and close.
const (
	Stdin  = 0
	Stdout = 1
	Stderr = 2
)

// StatSize is the size of the record stat writes.
const StatSize = 16

// Stat is the record stat writes: four little-endian u32.
type Stat struct {
	Mode  uint32 // POSIX st_mode: type and permission bits
	UID   uint32
	GID   uint32
	Nlink uint32
}

// Encode returns s as stat writes it.
func (s Stat) Encode() [StatSize]byte {
	var b [StatSize]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], s.Mode)
	le.PutUint32(b[4:], s.UID)
	le.PutUint32(b[8:], s.GID)
	le.PutUint32(b[12:], s.Nlink)
	return b
}

// DecodeStat reads the record stat wrote.
func DecodeStat(b [StatSize]byte) Stat {
	le := binary.LittleEndian
	return Stat{Mode: le.Uint32(b[0:]), UID: le.Uint32(b[4:]), GID: le.Uint32(b[8:]), Nlink: le.Uint32(b[12:])}
}
