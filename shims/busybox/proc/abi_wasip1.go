//go:build wasip1

package proc

import "unsafe"

//go:wasmimport wasmbox_proc spawn
//go:noescape
func procSpawn(req unsafe.Pointer, reqLen uint32, pidOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_proc last_error
//go:noescape
func procLastError(buf unsafe.Pointer, bufLen uint32, lenOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_proc write
//go:noescape
func procWrite(pid uint32, buf unsafe.Pointer, bufLen uint32, nOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_proc read
//go:noescape
func procRead(pid uint32, stream int32, buf unsafe.Pointer, bufLen uint32, nOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_proc close
func procClose(pid uint32, stream int32) uint32

//go:wasmimport wasmbox_proc wait
//go:noescape
func procWait(pid uint32, statusOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_proc kill
func procKill(pid uint32) uint32

//go:wasmimport wasmbox_proc chmod
//go:noescape
func procChmod(path unsafe.Pointer, pathLen uint32, mode uint32) uint32

//go:wasmimport wasmbox_proc lchown
//go:noescape
func procLchown(path unsafe.Pointer, pathLen uint32, uid, gid uint32) uint32

//go:wasmimport wasmbox_proc stat
//go:noescape
func procStat(path unsafe.Pointer, pathLen uint32, follow uint32, out unsafe.Pointer) uint32

//go:wasmimport wasmbox_proc task
func procTask(delta int32) uint32

//go:wasmimport wasmbox_proc ids
//go:noescape
func procIDs(out unsafe.Pointer) uint32

// defaultHost calls the wasmbox_proc imports.
type defaultHost struct{}

func bytesPtr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func stringPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

func (defaultHost) spawn(req []byte) (uint32, Errno) {
	var pid uint32
	e := procSpawn(bytesPtr(req), uint32(len(req)), unsafe.Pointer(&pid))
	return pid, Errno(e)
}

func (defaultHost) lastError() string {
	buf := make([]byte, 4096)
	var n uint32
	if procLastError(bytesPtr(buf), uint32(len(buf)), unsafe.Pointer(&n)) != 0 {
		return ""
	}
	return string(buf[:min(int(n), len(buf))])
}

func (defaultHost) write(pid uint32, b []byte) (int, Errno) {
	var n uint32
	e := procWrite(pid, bytesPtr(b), uint32(len(b)), unsafe.Pointer(&n))
	return int(n), Errno(e)
}

func (defaultHost) read(pid uint32, stream int32, b []byte) (int, Errno) {
	var n uint32
	e := procRead(pid, stream, bytesPtr(b), uint32(len(b)), unsafe.Pointer(&n))
	return int(n), Errno(e)
}

func (defaultHost) close(pid uint32, stream int32) Errno { return Errno(procClose(pid, stream)) }

func (defaultHost) wait(pid uint32) (uint32, Errno) {
	var status uint32
	e := procWait(pid, unsafe.Pointer(&status))
	return status, Errno(e)
}

func (defaultHost) kill(pid uint32) Errno { return Errno(procKill(pid)) }

func (defaultHost) task(delta int32) Errno { return Errno(procTask(delta)) }

func (defaultHost) ids() (uint32, uint32, Errno) {
	var out [2]uint32
	e := procIDs(unsafe.Pointer(&out))
	return out[0], out[1], Errno(e)
}

func (defaultHost) chmod(path string, mode uint32) Errno {
	return Errno(procChmod(stringPtr(path), uint32(len(path)), mode))
}

func (defaultHost) lchown(path string, uid, gid uint32) Errno {
	return Errno(procLchown(stringPtr(path), uint32(len(path)), uid, gid))
}

func (defaultHost) stat(path string, follow bool, out *[16]byte) Errno {
	var f uint32
	if follow {
		f = 1
	}
	return Errno(procStat(stringPtr(path), uint32(len(path)), f, unsafe.Pointer(out)))
}
