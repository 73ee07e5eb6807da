package fsimage

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// Type is the kind of an [Entry].
type Type uint8

// The entry types. The zero Type is invalid.
const (
	TypeReg      Type = iota + 1 // regular file
	TypeDir                      // directory
	TypeSymlink                  // symbolic link; Linkname is the target exactly as written
	TypeHardlink                 // Linkname: path (clean, relative) of the regular file in the same image it links to
	TypeWhiteout                 // in a layer: hides Path (and everything below it) of the layers beneath
)

// String returns a short lower-case name for t, such as "reg" or "dir".
func (t Type) String() string {
	switch t {
	case TypeReg:
		return "reg"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	case TypeHardlink:
		return "hardlink"
	case TypeWhiteout:
		return "whiteout"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Entry describes one file system object of an image or a [Tree].
type Entry struct {
	Path     string      // slash-separated, clean, relative: "bin/sh"; the root directory is "."
	Type     Type        //
	Mode     fs.FileMode // permission bits plus fs.ModeSetuid|ModeSetgid|ModeSticky only; no type bits
	UID, GID uint32      //
	ModTime  time.Time   // kept to the nanosecond
	Size     int64       // regular files; for a hard link, the size of its target (the writer fills it in)
	Linkname string      // symlink target exactly as written; hard link target path
	Opaque   bool        // directory only: hides the contents of same-path directories of the layers beneath
}

// modeMask is the set of fs.FileMode bits an Entry may carry.
const modeMask = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// FileMode returns Mode plus the fs type bits: fs.ModeDir for a directory,
// fs.ModeSymlink for a symbolic link, none for a regular file or a hard link
// (a hard link is a regular file), and fs.ModeIrregular for a whiteout or an
// unknown type.
func (e Entry) FileMode() fs.FileMode {
	m := e.Mode & modeMask
	switch e.Type {
	case TypeReg, TypeHardlink:
		return m
	case TypeDir:
		return m | fs.ModeDir
	case TypeSymlink:
		return m | fs.ModeSymlink
	}
	return m | fs.ModeIrregular
}

// Tree is the small core both one image and a stack of layers implement.
type Tree interface {
	// Lookup returns the entry at exactly path, without following
	// symbolic links. "." is the root directory.
	Lookup(path string) (Entry, bool)
	// Children returns the direct children of the directory dir, sorted
	// by name. Whiteouts never appear in a Stack's result.
	Children(dir string) ([]Entry, error)
	// Content returns the data of a regular file, or of a hard link's
	// target.
	Content(path string) (*io.SectionReader, error)
}

// Errors callers can test for with errors.Is. Errors about missing paths
// match fs.ErrNotExist.
var (
	// ErrCorrupt is wrapped by every error Open returns for malformed input.
	ErrCorrupt = errors.New("fsimage: corrupt image")
	// ErrNotDir reports a path component or argument that must be a
	// directory and is not (ENOTDIR).
	ErrNotDir = errors.New("not a directory")
	// ErrLoop reports a path whose resolution needs more than 40 symbolic
	// links (ELOOP).
	ErrLoop = errors.New("too many levels of symbolic links")
)

// errNotRegular is returned by Content for anything but a regular file or a
// hard link.
var errNotRegular = errors.New("not a regular file")

// validPath reports why p is not a valid entry path: slash-separated, clean,
// relative, no empty, "." or ".." element, no NUL byte. "." alone (the root)
// is valid. It returns "" for a valid path.
func validPath(p string) string {
	if p == "." {
		return ""
	}
	if p == "" {
		return "empty path"
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "path contains a NUL byte"
	}
	if p[0] == '/' {
		return "path is absolute"
	}
	for {
		i := strings.IndexByte(p, '/')
		elem := p
		if i >= 0 {
			elem = p[:i]
		}
		switch elem {
		case "":
			return "path has an empty element"
		case ".":
			return `path has a "." element`
		case "..":
			return `path has a ".." element`
		}
		if i < 0 {
			return ""
		}
		p = p[i+1:]
	}
}

// comparePaths orders paths the way the image index stores them: "." (the
// root) first, then byte-wise with '/' ordered before every other byte. This
// is a depth-first pre-order in which each directory is immediately followed
// by its whole subtree and siblings appear sorted by name: the order
// fs.WalkDir visits them in.
func comparePaths(a, b string) int {
	if a == "." || b == "." {
		switch {
		case a == b:
			return 0
		case a == ".":
			return -1
		}
		return 1
	}
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n && load64(a[i:]) == load64(b[i:]) {
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmp.Compare(len(a), len(b))
	}
	switch ca, cb := a[i], b[i]; {
	case ca == '/':
		return -1
	case cb == '/':
		return 1
	case ca < cb:
		return -1
	}
	return 1
}

// load64 reads the first 8 bytes of s as one word, to skip equal prefixes
// 8 bytes at a time (the compiler turns it into a single load).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// validName reports why name is not a valid last element of a path; ""
// if it is.
func validName(name string) string {
	switch {
	case name == "":
		return "empty element"
	case name == ".", name == "..":
		return "element " + name
	case strings.IndexByte(name, 0) >= 0:
		return "NUL byte"
	}
	return ""
}

// parentDir returns the parent directory of a valid non-root path; "." for a
// top-level name.
func parentDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return "."
}

// baseName returns the last element of a valid path ("." for the root).
func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// pathErr builds the *fs.PathError the Tree and FS methods return.
func pathErr(op, p string, err error) error {
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// entryError is how the writer reports an invalid entry.
func entryError(p string, format string, args ...any) error {
	return fmt.Errorf("fsimage: entry %q: %s", p, fmt.Sprintf(format, args...))
}
