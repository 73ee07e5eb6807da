package runtime

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// hostDir is a host directory granted to a box, reached only through an
// os.Root: every path the box gives is resolved by the kernel beneath the
// directory, so no "..", absolute symlink, relative symlink or link made
// by the box leads outside it (wazero's own directory mount would follow
// host symlinks anywhere).
type hostDir struct {
	root *os.Root
}

func openHostDir(dir string) (*hostDir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &hostDir{root: r}, nil
}

func (h *hostDir) Close() error { return h.root.Close() }

// rel turns the path wazero gives (relative to the mount, maybe "" or
// with a leading slash) into a name for the os.Root.
func rel(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return "."
	}
	return p[1:]
}

func errnoOf(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent" {
		// os.Root refused to leave the directory.
		return experimentalsys.EPERM
	}
	if errno := experimentalsys.UnwrapOSError(err); errno != 0 {
		return errno
	}
	return experimentalsys.EIO
}

func (h *hostDir) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	name := rel(p)
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		if fi, err := h.root.Lstat(name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	var oflag int
	switch {
	case flag&experimentalsys.O_RDWR != 0:
		oflag = os.O_RDWR
	case flag&experimentalsys.O_WRONLY != 0:
		oflag = os.O_WRONLY
	default:
		oflag = os.O_RDONLY
	}
	if flag&experimentalsys.O_APPEND != 0 {
		oflag |= os.O_APPEND
	}
	if flag&experimentalsys.O_CREAT != 0 {
		oflag |= os.O_CREATE
	}
	if flag&experimentalsys.O_EXCL != 0 {
		oflag |= os.O_EXCL
	}
	if flag&experimentalsys.O_TRUNC != 0 {
		oflag |= os.O_TRUNC
	}
	if flag&experimentalsys.O_SYNC != 0 {
		oflag |= os.O_SYNC
	}
	// Never block in the kernel on open: a FIFO of the host would hold
	// the runner (and its signal handling) until a writer comes. The type
	// is checked below and such files are refused.
	oflag |= openNonblock
	f, err := h.root.OpenFile(name, oflag, perm.Perm())
	if err != nil {
		return nil, errnoOf(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errnoOf(err)
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && !fi.IsDir() {
		f.Close()
		return nil, experimentalsys.ENOTDIR
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		// FIFOs, sockets and devices of the host stay out of the box.
		f.Close()
		return nil, experimentalsys.EACCES
	}
	return &hostFile{h: h, name: name, f: f, isDir: fi.IsDir(), append: oflag&os.O_APPEND != 0}, 0
}

func (h *hostDir) Lstat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	fi, err := h.root.Lstat(rel(p))
	if err != nil {
		return wazerosys.Stat_t{}, errnoOf(err)
	}
	return wazerosys.NewStat_t(fi), 0
}

func (h *hostDir) Stat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	fi, err := h.root.Stat(rel(p))
	if err != nil {
		return wazerosys.Stat_t{}, errnoOf(err)
	}
	return wazerosys.NewStat_t(fi), 0
}

func (h *hostDir) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	return errnoOf(h.root.Mkdir(rel(p), perm.Perm()))
}

func (h *hostDir) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	return errnoOf(h.root.Chmod(rel(p), perm.Perm()))
}

func (h *hostDir) Rename(from, to string) experimentalsys.Errno {
	return errnoOf(h.root.Rename(rel(from), rel(to)))
}

func (h *hostDir) Rmdir(p string) experimentalsys.Errno {
	fi, err := h.root.Lstat(rel(p))
	if err != nil {
		return errnoOf(err)
	}
	if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return errnoOf(h.root.Remove(rel(p)))
}

func (h *hostDir) Unlink(p string) experimentalsys.Errno {
	fi, err := h.root.Lstat(rel(p))
	if err != nil {
		return errnoOf(err)
	}
	if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	return errnoOf(h.root.Remove(rel(p)))
}

func (h *hostDir) Link(oldPath, newPath string) experimentalsys.Errno {
	return errnoOf(h.root.Link(rel(oldPath), rel(newPath)))
}

func (h *hostDir) Symlink(oldPath, linkName string) experimentalsys.Errno {
	return errnoOf(h.root.Symlink(oldPath, rel(linkName)))
}

func (h *hostDir) Readlink(p string) (string, experimentalsys.Errno) {
	s, err := h.root.Readlink(rel(p))
	return s, errnoOf(err)
}

func (h *hostDir) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	fi, err := h.root.Stat(rel(p))
	if err != nil {
		return errnoOf(err)
	}
	st := wazerosys.NewStat_t(fi)
	a, m := timeOf(atim, st.Atim), timeOf(mtim, st.Mtim)
	return errnoOf(h.root.Chtimes(rel(p), a, m))
}

// timeOf turns a WASI time (UTIME_OMIT or unix ns; wazero has resolved
// UTIME_NOW already) into a time.
func timeOf(ns, cur int64) time.Time {
	if ns == experimentalsys.UTIME_OMIT {
		return time.Unix(0, cur)
	}
	return time.Unix(0, ns)
}

// hostFile is a file or directory opened in a hostDir.
type hostFile struct {
	experimentalsys.UnimplementedFile
	h       *hostDir
	name    string // in h.root
	f       *os.File
	isDir   bool
	append  bool
	entries []experimentalsys.Dirent
	listed  bool
	pos     int
}

func (f *hostFile) Dev() (uint64, experimentalsys.Errno) {
	st, errno := f.Stat()
	return st.Dev, errno
}

func (f *hostFile) Ino() (wazerosys.Inode, experimentalsys.Errno) {
	st, errno := f.Stat()
	return st.Ino, errno
}

func (f *hostFile) IsDir() (bool, experimentalsys.Errno) { return f.isDir, 0 }
func (f *hostFile) IsAppend() bool                       { return f.append }

func (f *hostFile) SetAppend(enable bool) experimentalsys.Errno {
	// os.File cannot change O_APPEND after opening; writes honour the flag
	// given at open.
	if enable != f.append {
		return experimentalsys.ENOSYS
	}
	return 0
}

func (f *hostFile) Stat() (wazerosys.Stat_t, experimentalsys.Errno) {
	fi, err := f.f.Stat()
	if err != nil {
		return wazerosys.Stat_t{}, errnoOf(err)
	}
	return wazerosys.NewStat_t(fi), 0
}

func (f *hostFile) Read(buf []byte) (int, experimentalsys.Errno) {
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.Read(buf)
	if err == io.EOF {
		err = nil
	}
	return n, errnoOf(err)
}

func (f *hostFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.ReadAt(buf, off)
	if err == io.EOF {
		err = nil
	}
	return n, errnoOf(err)
}

func (f *hostFile) Seek(offset int64, whence int) (int64, experimentalsys.Errno) {
	if f.isDir {
		if offset == 0 && whence == io.SeekStart {
			f.listed, f.pos, f.entries = false, 0, nil
			return 0, 0
		}
		return 0, experimentalsys.EINVAL
	}
	n, err := f.f.Seek(offset, whence)
	return n, errnoOf(err)
}

func (f *hostFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if !f.isDir {
		return nil, experimentalsys.EBADF
	}
	if !f.listed {
		if _, err := f.f.Seek(0, io.SeekStart); err != nil {
			return nil, errnoOf(err)
		}
		des, err := f.f.ReadDir(-1)
		if err != nil {
			return nil, errnoOf(err)
		}
		f.entries = make([]experimentalsys.Dirent, 0, len(des))
		for _, de := range des {
			var ino uint64
			if fi, err := de.Info(); err == nil {
				ino = inode(fi)
			}
			f.entries = append(f.entries, experimentalsys.Dirent{Ino: ino, Name: de.Name(), Type: de.Type()})
		}
		f.listed = true
	}
	rest := f.entries[f.pos:]
	if n >= 0 && n < len(rest) {
		rest = rest[:n]
	}
	f.pos += len(rest)
	return rest, 0
}

func (f *hostFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.Write(buf)
	return n, errnoOf(err)
}

func (f *hostFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if f.isDir {
		return 0, experimentalsys.EISDIR
	}
	n, err := f.f.WriteAt(buf, off)
	return n, errnoOf(err)
}

func (f *hostFile) Truncate(size int64) experimentalsys.Errno {
	if f.isDir {
		return experimentalsys.EISDIR
	}
	return errnoOf(f.f.Truncate(size))
}

func (f *hostFile) Sync() experimentalsys.Errno     { return errnoOf(f.f.Sync()) }
func (f *hostFile) Datasync() experimentalsys.Errno { return errnoOf(f.f.Sync()) }

func (f *hostFile) Utimens(atim, mtim int64) experimentalsys.Errno {
	st, errno := f.Stat()
	if errno != 0 {
		return errno
	}
	a, m := timeOf(atim, st.Atim), timeOf(mtim, st.Mtim)
	// By name in the root (the file may have been renamed since: then
	// this fails rather than reaching outside).
	return errnoOf(f.h.root.Chtimes(f.name, a, m))
}

func (f *hostFile) Close() experimentalsys.Errno { return errnoOf(f.f.Close()) }
