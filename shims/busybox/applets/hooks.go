package applets

import (
	"io/fs"
	"os"
)

// Platform hooks. WASI preview 1 has no permission bits, owners or link
// counts that Go's os package can see or change (os.Chmod is a no-op on
// wasip1 and Lstat reports 0600/0700). The box keeps them in its own
// metadata, reachable through host calls (see shims/ABI.md: chmod, lchown,
// stat). The wasip1 main program replaces these variables with functions
// over those host calls before running any applet; natively (tests) they
// are the os functions. Applets read permission bits, owners and link
// counts only through Stat and Lstat, and change them only through Chmod
// and Lchown. Set them once, before applets run: they are not guarded.
var (
	// Chmod sets the permission bits (mode & 07777, including setuid,
	// setgid and sticky) of a path, following a final symlink. Used by
	// chmod, mkdir -m, cp (new files get the source's mode), install,
	// tar x, gunzip and sed -i.
	Chmod = os.Chmod

	// Lchown sets the owner and group of a path, not following a final
	// symlink; -1 leaves a value unchanged. Used by chown, chgrp, cp -p/-a
	// and tar x.
	Lchown = os.Lchown

	// Lstat describes a path without following a final symlink. The
	// returned FileInfo's Mode must carry the real permission bits; its
	// Sys, if a *syscall.Stat_t, supplies Uid, Gid, Nlink and Ino (on
	// wasip1 os leaves Uid and Gid zero, which is right for a box whose
	// files all belong to root). Used by ls, stat, find, cp, tar c, test
	// -h and everywhere the type or mode of a path matters.
	Lstat func(name string) (fs.FileInfo, error) = os.Lstat

	// Stat is Lstat following a final symlink. test -r/-w/-x, which,
	// find -perm and chmod read permission bits through it.
	Stat func(name string) (fs.FileInfo, error) = os.Stat

	// IDs returns the user and group the program runs as: in a box, the
	// image's USER or run --user, from the runner; natively, root of
	// the box (0, 0), whoever runs the tests. Used by id, whoami and
	// groups.
	IDs = func() (uid, gid uint32) { return 0, 0 }

	// Hostname returns the box's host name (the runner serves it as
	// /etc/hostname), or false when there is none: the applets then use
	// $HOSTNAME, else "wasmbox". Natively there is none. Used by
	// hostname and uname -n.
	Hostname = func() (string, bool) { return "", false }
)

// umask is the file mode creation mask. WASI has no umask; boxes behave as
// if it were the usual 022.
const umask = 0o022

// statInfo is what applets use of a FileInfo's Sys beyond fs.FileInfo.
type statInfo struct {
	uid, gid uint32
	nlink    uint64
	ino      uint64
	dev      uint64
}

// rootInfo is what a file without owner, link count and inode gets: root
// owns it and it has one link (two for a directory).
func rootInfo(fi fs.FileInfo) statInfo {
	n := uint64(1)
	if fi.IsDir() {
		n = 2
	}
	return statInfo{nlink: n}
}

// blocks1K estimates the disk usage of a file in KiB the way the box's
// filesystem would: whole 4 KiB blocks for regular files and directories,
// nothing for symlinks and devices. The box image stores no block counts,
// so this is the same natively and in the box.
func blocks1K(fi fs.FileInfo) int64 {
	switch {
	case fi.Mode().IsRegular():
		return (fi.Size() + 4095) / 4096 * 4
	case fi.IsDir():
		return 4
	}
	return 0
}
