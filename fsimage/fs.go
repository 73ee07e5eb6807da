package fsimage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// FileSystem is the io/fs view of a Tree that FS returns.
type FileSystem interface {
	fs.StatFS
	fs.ReadDirFS
	fs.ReadFileFS
	fs.ReadLinkFS
}

// FS returns the io/fs view of t.
//
// Open, Stat, ReadDir and ReadFile follow symbolic links in every element of
// the name; Lstat and ReadLink follow them in every element but the last.
// Links are confined to t: an absolute target resolves from t's root, and
// ".." at the root stays at the root. Resolving a name needs at most 40
// links, or the error matches ErrLoop; a non-directory in the middle of a
// name gives an error matching ErrNotDir. Whiteouts (of a single layer) do
// not appear: they are as if absent. Names are checked as fs.ValidPath
// does, except that, as on Linux, they need not be valid UTF-8.
//
// FileInfo.Sys returns the Entry (for a name that ends in a symbolic link,
// Stat's is the entry of the link's target, Lstat's the link's own).
// FileInfo.Size of a symbolic link is the length of its target, as lstat(2)
// reports it. Opened regular files implement io.ReaderAt and io.Seeker;
// they read through Tree.Content.
func FS(t Tree) FileSystem {
	return &treeFS{t: t}
}

type treeFS struct {
	t Tree
}

var (
	errIsDir      = errors.New("is a directory")
	errNotSymlink = fmt.Errorf("not a symbolic link: %w", fs.ErrInvalid)
)

// lookup is t.Lookup with whiteouts hidden.
func (f *treeFS) lookup(p string) (Entry, bool) {
	e, ok := f.t.Lookup(p)
	if !ok || e.Type == TypeWhiteout {
		return Entry{}, false
	}
	return e, true
}

// resolve returns the entry name leads to, following symbolic links in
// every element but the last, and in the last too if follow is set.
func (f *treeFS) resolve(op, name string, follow bool) (Entry, error) {
	// Not fs.ValidPath: image names are bytes, as on Linux, and need
	// not be UTF-8.
	if validPath(name) != "" {
		return Entry{}, pathErr(op, name, fs.ErrInvalid)
	}
	root, ok := f.lookup(".")
	if !ok {
		return Entry{}, pathErr(op, name, fs.ErrNotExist)
	}
	if root.Type != TypeDir {
		return Entry{}, pathErr(op, name, ErrNotDir)
	}
	w, err := Walk[Entry](entryWalker{f, root}, name, follow)
	if err != nil {
		return Entry{}, pathErr(op, name, err)
	}
	if !w.Found {
		return Entry{}, pathErr(op, name, fs.ErrNotExist)
	}
	return w.Node, nil
}

// entryWalker walks the entries of a Tree, whose root is root.
type entryWalker struct {
	f    *treeFS
	root Entry
}

func (w entryWalker) Root() Entry { return w.root }

func (w entryWalker) Lookup(dir Entry, name string) (Entry, bool) {
	if dir.Path != "." {
		name = dir.Path + "/" + name
	}
	return w.f.lookup(name)
}

func (w entryWalker) IsDir(e Entry) bool { return e.Type == TypeDir }

func (w entryWalker) Link(e Entry) (string, bool) {
	return e.Linkname, e.Type == TypeSymlink
}

// innerErr strips the *fs.PathError a Tree method returned, so that the
// error can be reported under the name the caller used.
func innerErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (f *treeFS) Open(name string) (fs.File, error) {
	e, err := f.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	info := fileInfo{name: baseName(name), e: e}
	switch e.Type {
	case TypeDir:
		return &dirFile{fsys: f, info: info}, nil
	case TypeReg, TypeHardlink:
		sr, err := f.t.Content(e.Path)
		if err != nil {
			return nil, pathErr("open", name, innerErr(err))
		}
		return &file{info: info, sr: sr}, nil
	}
	return nil, pathErr("open", name, errNotRegular)
}

func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	e, err := f.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: baseName(name), e: e}, nil
}

func (f *treeFS) Lstat(name string) (fs.FileInfo, error) {
	e, err := f.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: baseName(name), e: e}, nil
}

// ReadLink returns the target of the symbolic link name exactly as stored,
// which may be absolute or climb with "..": resolve it against the tree,
// not the host.
func (f *treeFS) ReadLink(name string) (string, error) {
	e, err := f.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if e.Type != TypeSymlink {
		return "", pathErr("readlink", name, errNotSymlink)
	}
	return e.Linkname, nil
}

func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if e.Type != TypeDir {
		return nil, pathErr("readdir", name, ErrNotDir)
	}
	list, err := f.readDir(e.Path)
	if err != nil {
		return nil, pathErr("readdir", name, innerErr(err))
	}
	return list, nil
}

// readDir lists the directory at the tree path dir.
func (f *treeFS) readDir(dir string) ([]fs.DirEntry, error) {
	kids, err := f.t.Children(dir)
	if err != nil {
		return nil, err
	}
	list := make([]fs.DirEntry, 0, len(kids))
	for _, k := range kids {
		if k.Type == TypeWhiteout {
			continue
		}
		list = append(list, dirEntry{fileInfo{name: baseName(k.Path), e: k}})
	}
	return list, nil
}

func (f *treeFS) ReadFile(name string) ([]byte, error) {
	e, err := f.resolve("readfile", name, true)
	if err != nil {
		return nil, err
	}
	switch e.Type {
	case TypeReg, TypeHardlink:
	case TypeDir:
		return nil, pathErr("readfile", name, errIsDir)
	default:
		return nil, pathErr("readfile", name, errNotRegular)
	}
	sr, err := f.t.Content(e.Path)
	if err != nil {
		return nil, pathErr("readfile", name, innerErr(err))
	}
	// Size comes from a Tree: trust it for the first allocation only up
	// to a bound, and let the buffer grow with what really arrives.
	b := make([]byte, 0, min(sr.Size(), 64<<20)+1)
	for {
		n, err := sr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, pathErr("readfile", name, err)
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// fileInfo implements fs.FileInfo for an Entry.
type fileInfo struct {
	name string
	e    Entry
}

func (fi fileInfo) Name() string { return fi.name }

func (fi fileInfo) Size() int64 {
	switch fi.e.Type {
	case TypeReg, TypeHardlink:
		return fi.e.Size
	case TypeSymlink:
		return int64(len(fi.e.Linkname))
	}
	return 0
}

func (fi fileInfo) Mode() fs.FileMode  { return fi.e.FileMode() }
func (fi fileInfo) ModTime() time.Time { return fi.e.ModTime }
func (fi fileInfo) IsDir() bool        { return fi.e.Type == TypeDir }
func (fi fileInfo) Sys() any           { return fi.e }
func (fi fileInfo) String() string     { return fs.FormatFileInfo(fi) }

// dirEntry implements fs.DirEntry; Info does not follow symbolic links.
type dirEntry struct {
	info fileInfo
}

func (d dirEntry) Name() string               { return d.info.name }
func (d dirEntry) IsDir() bool                { return d.info.IsDir() }
func (d dirEntry) Type() fs.FileMode          { return d.info.Mode().Type() }
func (d dirEntry) Info() (fs.FileInfo, error) { return d.info, nil }
func (d dirEntry) String() string             { return fs.FormatDirEntry(d) }

// file is an opened regular file or hard link.
type file struct {
	info   fileInfo
	sr     *io.SectionReader
	closed bool
}

var (
	_ io.ReaderAt = (*file)(nil)
	_ io.Seeker   = (*file)(nil)
)

func (f *file) Stat() (fs.FileInfo, error) {
	if f.closed {
		return nil, pathErr("stat", f.info.name, fs.ErrClosed)
	}
	return f.info, nil
}

func (f *file) Read(p []byte) (int, error) {
	if f.closed {
		return 0, pathErr("read", f.info.name, fs.ErrClosed)
	}
	return f.sr.Read(p)
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, pathErr("read", f.info.name, fs.ErrClosed)
	}
	return f.sr.ReadAt(p, off)
}

func (f *file) Seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, pathErr("seek", f.info.name, fs.ErrClosed)
	}
	return f.sr.Seek(offset, whence)
}

func (f *file) Close() error {
	if f.closed {
		return pathErr("close", f.info.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// dirFile is an opened directory; its listing is read at the first ReadDir.
type dirFile struct {
	fsys   *treeFS
	info   fileInfo
	list   []fs.DirEntry
	read   bool
	off    int
	closed bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) {
	if d.closed {
		return nil, pathErr("stat", d.info.name, fs.ErrClosed)
	}
	return d.info, nil
}

func (d *dirFile) Read([]byte) (int, error) {
	return 0, pathErr("read", d.info.name, errIsDir)
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, pathErr("readdir", d.info.name, fs.ErrClosed)
	}
	if !d.read {
		list, err := d.fsys.readDir(d.info.e.Path)
		if err != nil {
			return nil, pathErr("readdir", d.info.name, innerErr(err))
		}
		d.list, d.read = list, true
	}
	rest := d.list[d.off:]
	if n <= 0 {
		d.off = len(d.list)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.off += len(rest)
	return rest, nil
}

func (d *dirFile) Close() error {
	if d.closed {
		return pathErr("close", d.info.name, fs.ErrClosed)
	}
	d.closed = true
	return nil
}
