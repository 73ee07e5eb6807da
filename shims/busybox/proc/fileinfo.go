package proc

import (
	"io/fs"
	"os"
)

// FileStat is os.Stat corrected with the box's metadata: the FileInfo's
// Mode carries the box's permission bits (os on wasip1 reports 0600 for
// every file and 0700 for every directory) and, on wasip1, its Sys is a
// *syscall.Stat_t with the box's Uid, Gid and Nlink. Without box
// metadata (no host module) it is os.Stat's result.
func FileStat(name string) (fs.FileInfo, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	return withAttr(fi, name, true), nil
}

// FileLstat is FileStat not following a final symlink.
func FileLstat(name string) (fs.FileInfo, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, err
	}
	return withAttr(fi, name, false), nil
}

func withAttr(fi fs.FileInfo, name string, follow bool) fs.FileInfo {
	a, err := stat("stat", name, follow)
	if err != nil {
		return fi
	}
	return &boxInfo{FileInfo: fi, mode: fi.Mode().Type() | a.FileMode()&^fs.ModeType, sys: withSys(fi.Sys(), a)}
}

// boxInfo is a FileInfo whose mode and Sys come from the box.
type boxInfo struct {
	fs.FileInfo
	mode fs.FileMode
	sys  any
}

func (b *boxInfo) Mode() fs.FileMode { return b.mode }
func (b *boxInfo) Sys() any          { return b.sys }
