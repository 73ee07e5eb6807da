//go:build !unix && !wasip1

package applets

import "io/fs"

// sysInfo: this system's FileInfo carries no owner, link count or inode.
func sysInfo(fi fs.FileInfo) statInfo { return rootInfo(fi) }
