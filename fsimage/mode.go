package fsimage

import "io/fs"

// POSIX st_mode bits.
const (
	modeTypeMask = 0o170000
	modeSocket   = 0o140000
	modeSymlink  = 0o120000
	modeRegular  = 0o100000
	modeBlock    = 0o060000
	modeDir      = 0o040000
	modeChar     = 0o020000
	modeFIFO     = 0o010000
	modeSetuid   = 0o4000
	modeSetgid   = 0o2000
	modeSticky   = 0o1000
)

// UnixMode converts m to POSIX st_mode bits: the file type (S_IFREG for a
// mode with no type bits), the set-user-ID, set-group-ID and sticky bits,
// and the permission bits. UnixMode(m)&0o7777 is what chmod(2) takes.
//
// This is the one conversion from Go's mode bits: the host (the fsimage
// format, the runner, the build) and the guest programs all use it.
func UnixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= modeSetuid
	}
	if m&fs.ModeSetgid != 0 {
		u |= modeSetgid
	}
	if m&fs.ModeSticky != 0 {
		u |= modeSticky
	}
	switch {
	case m.IsDir():
		u |= modeDir
	case m&fs.ModeSymlink != 0:
		u |= modeSymlink
	case m&fs.ModeNamedPipe != 0:
		u |= modeFIFO
	case m&fs.ModeSocket != 0:
		u |= modeSocket
	case m&fs.ModeCharDevice != 0:
		u |= modeChar
	case m&fs.ModeDevice != 0:
		u |= modeBlock
	default:
		u |= modeRegular
	}
	return u
}

// GoMode converts POSIX mode bits back: the file type (none for S_IFREG
// or no type bits at all), the set-user-ID, set-group-ID and sticky bits,
// and the permission bits. Bits it does not know are ignored.
func GoMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&modeSetuid != 0 {
		m |= fs.ModeSetuid
	}
	if u&modeSetgid != 0 {
		m |= fs.ModeSetgid
	}
	if u&modeSticky != 0 {
		m |= fs.ModeSticky
	}
	switch u & modeTypeMask {
	case modeDir:
		m |= fs.ModeDir
	case modeSymlink:
		m |= fs.ModeSymlink
	case modeFIFO:
		m |= fs.ModeNamedPipe
	case modeSocket:
		m |= fs.ModeSocket
	case modeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case modeBlock:
		m |= fs.ModeDevice
	}
	return m
}
