package applets

import (
	"errors"
	"io/fs"
	"strconv"

	"github.com/wasmbox/wasmbox/fsimage"
)

// unixMode converts Go's mode bits to POSIX permission bits (07777).
func unixMode(m fs.FileMode) uint32 { return fsimage.UnixMode(m) & 0o7777 }

// goMode converts POSIX permission bits to Go's.
func goMode(u uint32) fs.FileMode { return fsimage.GoMode(u & 0o7777) }

// typeChar is the file type letter of ls -l.
func typeChar(m fs.FileMode) byte {
	switch {
	case m.IsDir():
		return 'd'
	case m&fs.ModeSymlink != 0:
		return 'l'
	case m&fs.ModeNamedPipe != 0:
		return 'p'
	case m&fs.ModeSocket != 0:
		return 's'
	case m&fs.ModeCharDevice != 0:
		return 'c'
	case m&fs.ModeDevice != 0:
		return 'b'
	}
	return '-'
}

// modeString is the ls -l mode column: "drwxr-xr-x".
func modeString(m fs.FileMode) string {
	u := unixMode(m)
	b := []byte{typeChar(m), '-', '-', '-', '-', '-', '-', '-', '-', '-'}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if u&(1<<(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	special := func(bit uint32, pos int, lower, upper byte) {
		if u&bit != 0 {
			if b[pos] == 'x' {
				b[pos] = lower
			} else {
				b[pos] = upper
			}
		}
	}
	special(0o4000, 3, 's', 'S')
	special(0o2000, 6, 's', 'S')
	special(0o1000, 9, 't', 'T')
	return string(b)
}

// typeNames are stat's %F of the types typeChar knows.
var typeNames = map[byte]string{
	'd': "directory", 'l': "symbolic link", 'p': "fifo", 's': "socket",
	'c': "character special file", 'b': "block special file",
}

// fileTypeName is stat's %F.
func fileTypeName(fi fs.FileInfo) string {
	if name, ok := typeNames[typeChar(fi.Mode())]; ok {
		return name
	}
	if fi.Size() == 0 {
		return "regular empty file"
	}
	return "regular file"
}

// rawMode is st_mode: type bits and permission bits.
func rawMode(m fs.FileMode) uint32 { return fsimage.UnixMode(m) }

var errBadMode = errors.New("invalid mode")

// parseMode applies a chmod mode, octal ("755") or symbolic
// ("u+x,go-w", "a=r", "+X", "u=g"), to the permission bits cur of a file.
// Symbolic clauses without a who part are masked by the umask, as in
// chmod(1).
func parseMode(spec string, cur uint32, isDir bool) (uint32, error) {
	if spec == "" {
		return 0, errBadMode
	}
	if spec[0] >= '0' && spec[0] <= '7' {
		n, err := strconv.ParseUint(spec, 8, 32)
		if err != nil || n > 0o7777 {
			return 0, errBadMode
		}
		m := uint32(n)
		// Like GNU, a short octal mode keeps a directory's set-id bits.
		if isDir && len(spec) < 5 {
			m |= cur & 0o6000
		}
		return m, nil
	}
	m := cur
	i := 0
	for {
		// who
		var who uint32
		for ; i < len(spec); i++ {
			switch spec[i] {
			case 'u':
				who |= 0o4700
			case 'g':
				who |= 0o2070
			case 'o':
				who |= 0o1007
			case 'a':
				who |= 0o7777
			default:
				goto ops
			}
		}
	ops:
		if i >= len(spec) || (spec[i] != '+' && spec[i] != '-' && spec[i] != '=') {
			return 0, errBadMode
		}
		for i < len(spec) && (spec[i] == '+' || spec[i] == '-' || spec[i] == '=') {
			op := spec[i]
			i++
			var perm uint32
			copied := false
			for ; i < len(spec); i++ {
				c := spec[i]
				switch c {
				case 'r':
					perm |= 0o444
				case 'w':
					perm |= 0o222
				case 'x':
					perm |= 0o111
				case 'X':
					if isDir || m&0o111 != 0 {
						perm |= 0o111
					}
				case 's':
					perm |= 0o6000
				case 't':
					perm |= 0o1000
				case 'u', 'g', 'o':
					if copied || perm != 0 {
						return 0, errBadMode
					}
					var bits uint32
					switch c {
					case 'u':
						bits = (m >> 6) & 7
					case 'g':
						bits = (m >> 3) & 7
					case 'o':
						bits = m & 7
					}
					perm = bits<<6 | bits<<3 | bits
					copied = true
				default:
					goto next
				}
			}
		next:
			mask := who
			if who == 0 {
				mask = 0o7777 &^ umask
				if op == '=' {
					mask = 0o7777
				}
			}
			p := perm & mask
			if who == 0 && op != '=' {
				p = perm & (0o7777 &^ umask)
				// s and t are not affected by umask.
				p |= perm & 0o7000
			}
			switch op {
			case '+':
				m |= p
			case '-':
				m &^= p
			case '=':
				clear := who
				if who == 0 {
					clear = 0o7777
				}
				// = keeps a directory's set-id bits unless given.
				if isDir {
					clear &^= 0o6000
				}
				m = m&^clear | p
				if who == 0 {
					m &^= umask & 0o777 & p
				}
			}
		}
		if i >= len(spec) {
			return m & 0o7777, nil
		}
		if spec[i] != ',' {
			return 0, errBadMode
		}
		i++
	}
}
