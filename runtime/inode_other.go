//go:build !unix

package runtime

import "io/fs"

// inode is the inode number of a host file: unknown here.
func inode(fs.FileInfo) uint64 { return 0 }
