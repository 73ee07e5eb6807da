package runtime

import (
	"io"
	"io/fs"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/fsimage"
)

func (o *overlay) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if p == devNullPath {
		return devNull{}, 0
	}
	acc := flag & (experimentalsys.O_RDONLY | experimentalsys.O_WRONLY | experimentalsys.O_RDWR)
	writing := acc != experimentalsys.O_RDONLY || flag&(experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0
	if writing || flag&experimentalsys.O_CREAT != 0 {
		o.mu.Lock()
		defer o.mu.Unlock()
	} else {
		o.mu.RLock()
		defer o.mu.RUnlock()
	}
	r, errno := o.resolve(p, flag&experimentalsys.O_NOFOLLOW == 0)
	if errno != 0 {
		return nil, errno
	}
	if !r.exists() {
		if flag&experimentalsys.O_CREAT == 0 {
			return nil, experimentalsys.ENOENT
		}
		if flag&experimentalsys.O_DIRECTORY != 0 {
			return nil, experimentalsys.EINVAL
		}
		if hasTrailingSlash(p) {
			// "dir/" cannot name a new regular file.
			return nil, experimentalsys.EISDIR
		}
		n := &node{typ: fsimage.TypeReg, mode: perm & fs.ModePerm}
		if errno := o.create(r, n); errno != 0 {
			return nil, errno
		}
		n.opens.Add(1)
		return &file{o: o, ref: r, n: n, append: flag&experimentalsys.O_APPEND != 0, write: acc != experimentalsys.O_RDONLY, read: acc != experimentalsys.O_WRONLY}, 0
	}
	if flag&experimentalsys.O_CREAT != 0 && flag&experimentalsys.O_EXCL != 0 {
		return nil, experimentalsys.EEXIST
	}
	switch r.typ() {
	case fsimage.TypeSymlink:
		// Only reached with O_NOFOLLOW.
		return nil, experimentalsys.ELOOP
	case fsimage.TypeDir:
		if writing {
			return nil, experimentalsys.EISDIR
		}
		return &dir{o: o, ref: r}, 0
	}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		return nil, experimentalsys.ENOTDIR
	}
	f := &file{o: o, ref: r, append: flag&experimentalsys.O_APPEND != 0, write: acc != experimentalsys.O_RDONLY, read: acc != experimentalsys.O_WRONLY}
	if writing {
		n, errno := o.upper(r)
		if errno != 0 {
			return nil, errno
		}
		if flag&experimentalsys.O_TRUNC != 0 {
			f.o.chargeLocked(n.data.reset())
			n.mtime = o.now().UnixNano()
		}
		f.n = n
		n.opens.Add(1)
		return f, 0
	}
	if r.n != nil {
		f.n = r.n
		r.n.opens.Add(1)
		return f, 0
	}
	sr, err := o.lower.Content(r.lower.Path)
	if err != nil {
		return nil, experimentalsys.EIO
	}
	f.lower = sr
	return f, 0
}

// file is an open regular file: a node of the writable layer, or the
// content of a lower entry for a file opened read-only (no copy).
type file struct {
	experimentalsys.UnimplementedFile
	o           *overlay
	ref         *ref
	n           *node
	lower       *io.SectionReader
	off         int64
	append      bool
	read, write bool
	nonblock    bool
	closed      bool
}

var _ experimentalsys.PollableFile = (*file)(nil)

// IsNonblock and SetNonblock keep O_NONBLOCK as a flag: a regular file
// never blocks, but fcntl(F_SETFL, O_NONBLOCK) succeeds on it in POSIX
// (CPython's os.set_blocking), and wazero says ENOSYS for a file that
// cannot be polled.
func (f *file) IsNonblock() bool { return f.nonblock }

func (f *file) SetNonblock(enable bool) experimentalsys.Errno {
	f.nonblock = enable
	return 0
}

// Poll reports a regular file ready, as poll(2) does.
func (f *file) Poll(experimentalsys.Pflag, int32) (bool, experimentalsys.Errno) { return true, 0 }

func (f *file) Dev() (uint64, experimentalsys.Errno) { return 1, 0 }

func (f *file) Ino() (wazerosys.Inode, experimentalsys.Errno) {
	if f.n != nil {
		return f.n.ino, 0
	}
	return lowerIno(f.ref.lower.Path), 0
}

func (f *file) IsDir() (bool, experimentalsys.Errno) { return false, 0 }
func (f *file) IsAppend() bool                       { return f.append }
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	f.append = enable
	return 0
}

func (f *file) Stat() (wazerosys.Stat_t, experimentalsys.Errno) {
	f.o.mu.RLock()
	defer f.o.mu.RUnlock()
	if f.n != nil {
		return f.o.stat(&ref{fullPath: f.ref.path(), n: f.n}), 0
	}
	return f.o.stat(f.ref), 0
}

func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	n, errno := f.Pread(buf, f.off)
	f.off += int64(n)
	return n, errno
}

func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if !f.read {
		return 0, experimentalsys.EBADF
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if f.lower != nil {
		n, err := f.lower.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			return n, experimentalsys.EIO
		}
		return n, 0
	}
	f.o.mu.RLock()
	defer f.o.mu.RUnlock()
	return f.n.data.readAt(buf, off), 0
}

func (f *file) size() int64 {
	if f.lower != nil {
		return f.lower.Size()
	}
	f.o.mu.RLock()
	defer f.o.mu.RUnlock()
	return f.n.data.size
}

func (f *file) Seek(offset int64, whence int) (int64, experimentalsys.Errno) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = f.off + offset
	case io.SeekEnd:
		abs = f.size() + offset
	default:
		return 0, experimentalsys.EINVAL
	}
	if abs < 0 {
		return 0, experimentalsys.EINVAL
	}
	f.off = abs
	return abs, 0
}

func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	if f.append {
		f.off = f.size()
	}
	n, errno := f.Pwrite(buf, f.off)
	f.off += int64(n)
	return n, errno
}

func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if !f.write {
		return 0, experimentalsys.EBADF
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	f.o.mu.Lock()
	defer f.o.mu.Unlock()
	n := f.n
	grow, err := n.data.growth(len(buf), off)
	if err != nil {
		return 0, experimentalsys.EINVAL
	}
	if !f.o.chargeLocked(grow) {
		return 0, errNoSpace
	}
	n.data.writeAt(buf, off)
	n.mtime = f.o.now().UnixNano()
	return len(buf), 0
}

func (f *file) Truncate(size int64) experimentalsys.Errno {
	if !f.write {
		return experimentalsys.EBADF
	}
	if size < 0 {
		return experimentalsys.EINVAL
	}
	f.o.mu.Lock()
	defer f.o.mu.Unlock()
	n := f.n
	freed, err := n.data.truncate(size)
	if err != nil {
		return experimentalsys.EINVAL
	}
	f.o.chargeLocked(freed)
	n.mtime = f.o.now().UnixNano()
	return 0
}

func (f *file) Sync() experimentalsys.Errno     { return 0 }
func (f *file) Datasync() experimentalsys.Errno { return 0 }

func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	f.o.mu.Lock()
	defer f.o.mu.Unlock()
	n := f.n
	if n == nil {
		var errno experimentalsys.Errno
		if n, errno = f.o.upper(f.ref); errno != 0 {
			return errno
		}
	}
	f.o.utimens(n, atim, mtim)
	return 0
}

// Close gives back the data of a file removed while it was open, when
// this was its last open file.
func (f *file) Close() experimentalsys.Errno {
	if f.n == nil || f.closed {
		return 0
	}
	f.closed = true
	f.o.mu.Lock()
	defer f.o.mu.Unlock()
	if f.n.opens.Add(-1) == 0 && f.n.nlink == 0 {
		f.o.chargeLocked(f.n.data.reset())
	}
	return 0
}

// dir is an open directory. Its listing is taken at the first Readdir and
// after each rewind, like a snapshot.
type dir struct {
	experimentalsys.DirFile
	o       *overlay
	ref     *ref
	entries []experimentalsys.Dirent
	pos     int
	listed  bool
}

func (d *dir) Dev() (uint64, experimentalsys.Errno) { return 1, 0 }

func (d *dir) Ino() (wazerosys.Inode, experimentalsys.Errno) {
	d.o.mu.RLock()
	defer d.o.mu.RUnlock()
	return d.o.stat(d.ref).Ino, 0
}

func (d *dir) Stat() (wazerosys.Stat_t, experimentalsys.Errno) {
	d.o.mu.RLock()
	defer d.o.mu.RUnlock()
	return d.o.stat(d.ref), 0
}

func (d *dir) Seek(offset int64, whence int) (int64, experimentalsys.Errno) {
	if offset == 0 && whence == io.SeekStart {
		d.listed, d.pos, d.entries = false, 0, nil
		return 0, 0
	}
	return 0, experimentalsys.EINVAL
}

func (d *dir) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if !d.listed {
		d.o.mu.RLock()
		// The directory may have been copied up or changed since it was
		// opened: look it up again.
		r, errno := d.o.resolve(d.ref.path(), false)
		if errno == 0 && r.exists() {
			d.ref = r
		}
		names, errno := d.o.names(d.ref)
		if errno != 0 {
			d.o.mu.RUnlock()
			return nil, errno
		}
		d.entries = make([]experimentalsys.Dirent, 0, len(names))
		for _, name := range names {
			c := d.o.child(d.ref, name)
			if !c.exists() {
				continue
			}
			st := d.o.stat(c)
			d.entries = append(d.entries, experimentalsys.Dirent{Ino: st.Ino, Name: name, Type: st.Mode.Type()})
		}
		d.o.mu.RUnlock()
		d.listed = true
	}
	rest := d.entries[d.pos:]
	if n >= 0 && n < len(rest) {
		rest = rest[:n]
	}
	d.pos += len(rest)
	return rest, 0
}

func (d *dir) Utimens(atim, mtim int64) experimentalsys.Errno {
	return d.o.Utimens(d.ref.path(), atim, mtim)
}

func (d *dir) Sync() experimentalsys.Errno     { return 0 }
func (d *dir) Datasync() experimentalsys.Errno { return 0 }
func (d *dir) Close() experimentalsys.Errno    { return 0 }

// devNullPath is the one device of a box: /dev/null, which reads as empty
// and swallows writes (WASI has no device files).
const devNullPath = "dev/null"

type devNull struct {
	experimentalsys.UnimplementedFile
}

func (devNull) Stat() (wazerosys.Stat_t, experimentalsys.Errno) {
	return wazerosys.Stat_t{Dev: 1, Ino: 2, Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Nlink: 1}, 0
}
func (devNull) Dev() (uint64, experimentalsys.Errno)             { return 1, 0 }
func (devNull) Ino() (wazerosys.Inode, experimentalsys.Errno)    { return 2, 0 }
func (devNull) IsDir() (bool, experimentalsys.Errno)             { return false, 0 }
func (devNull) Read([]byte) (int, experimentalsys.Errno)         { return 0, 0 }
func (devNull) Pread([]byte, int64) (int, experimentalsys.Errno) { return 0, 0 }
func (devNull) Write(b []byte) (int, experimentalsys.Errno)      { return len(b), 0 }
func (devNull) Pwrite(b []byte, _ int64) (int, experimentalsys.Errno) {
	return len(b), 0
}
func (devNull) Seek(int64, int) (int64, experimentalsys.Errno) { return 0, 0 }
func (devNull) Truncate(int64) experimentalsys.Errno           { return 0 }
func (devNull) Close() experimentalsys.Errno                   { return 0 }
