package fsimage

import (
	"encoding/binary"
	"hash/crc32"
	"io/fs"
	"math"
	"time"
)

// The byte format is described in FORMAT.md; keep the two in step.
const (
	// Version is the format version this package writes and reads.
	Version = 1

	headerMagic = "WBFSIMG\x00"
	footerMagic = "WBFSEND\x00"

	headerSize      = 16 // magic, version, flags
	footerSize      = 32 // index offset, index length, CRC-32C, reserved, magic
	indexHeaderSize = 16 // entry count, string table length, reserved
	recordSize      = 64 // one entry of the index

	flagOpaque = 1 << 0 // record flags: directory is opaque

	// Unix mode bits as stored in a record: permission, set-id, sticky.
	unixMask = 0o7777
)

// maxUnixSec is the latest time.Time can hold, in Unix seconds: time counts
// seconds from year 1 in an int64.
const maxUnixSec = math.MaxInt64 - 62135596800

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var le = binary.LittleEndian

// record is the fixed-size part of one index entry, as stored.
type record struct {
	pathOff, pathLen uint32
	linkOff, linkLen uint32
	typ, flags       uint8
	reserved16       uint16
	mode             uint32
	uid, gid         uint32
	sec              int64
	nsec             uint32
	reserved32       uint32
	size             uint64
	dataOff          uint64
}

func (r *record) put(b []byte) {
	_ = b[recordSize-1]
	le.PutUint32(b[0:], r.pathOff)
	le.PutUint32(b[4:], r.pathLen)
	le.PutUint32(b[8:], r.linkOff)
	le.PutUint32(b[12:], r.linkLen)
	b[16] = r.typ
	b[17] = r.flags
	le.PutUint16(b[18:], r.reserved16)
	le.PutUint32(b[20:], r.mode)
	le.PutUint32(b[24:], r.uid)
	le.PutUint32(b[28:], r.gid)
	le.PutUint64(b[32:], uint64(r.sec))
	le.PutUint32(b[40:], r.nsec)
	le.PutUint32(b[44:], r.reserved32)
	le.PutUint64(b[48:], r.size)
	le.PutUint64(b[56:], r.dataOff)
}

func (r *record) get(b []byte) {
	_ = b[recordSize-1]
	r.pathOff = le.Uint32(b[0:])
	r.pathLen = le.Uint32(b[4:])
	r.linkOff = le.Uint32(b[8:])
	r.linkLen = le.Uint32(b[12:])
	r.typ = b[16]
	r.flags = b[17]
	r.reserved16 = le.Uint16(b[18:])
	r.mode = le.Uint32(b[20:])
	r.uid = le.Uint32(b[24:])
	r.gid = le.Uint32(b[28:])
	r.sec = int64(le.Uint64(b[32:]))
	r.nsec = le.Uint32(b[40:])
	r.reserved32 = le.Uint32(b[44:])
	r.size = le.Uint64(b[48:])
	r.dataOff = le.Uint64(b[56:])
}

// unixMode converts an Entry's Mode (already validated) to stored bits.
func unixMode(m fs.FileMode) uint32 { return UnixMode(m) & unixMask }

// fileMode converts stored bits (already checked against unixMask) back.
func fileMode(u uint32) fs.FileMode { return GoMode(u & unixMask) }

// mtime converts stored seconds and nanoseconds to a UTC time.
func mtime(sec int64, nsec uint32) time.Time {
	return time.Unix(sec, int64(nsec)).UTC()
}
