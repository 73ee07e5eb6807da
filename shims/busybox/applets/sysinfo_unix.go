//go:build unix || wasip1

package applets

import (
	"io/fs"
	"syscall"
)

// sysInfo extracts owner, link count and inode from fi; files without that
// information belong to root and have one link.
func sysInfo(fi fs.FileInfo) statInfo {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st != nil {
		return statInfo{uid: st.Uid, gid: st.Gid, nlink: uint64(st.Nlink), ino: st.Ino, dev: uint64(st.Dev)}
	}
	return rootInfo(fi)
}
