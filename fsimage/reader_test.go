package fsimage

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rawImage is a decoded image a test can damage and encode again: the
// records and names of its index are kept apart so that changing a name
// moves the others, and the checksum is recomputed, to reach the checks
// behind it.
type rawImage struct {
	head  []byte // header and data section
	recs  []record
	paths []string
	links []string
	// optional edits after the string offsets are laid out
	fixRecs  func(recs []record)
	fixIndex func(idx []byte) []byte
	fixImage func(b []byte) []byte
}

func decodeRaw(t testing.TB, b []byte) *rawImage {
	t.Helper()
	ftr := b[len(b)-footerSize:]
	off, n := le.Uint64(ftr[0:]), le.Uint64(ftr[8:])
	idx := b[off : off+n]
	count := int(le.Uint32(idx[0:]))
	strtab := idx[indexHeaderSize+count*recordSize:]
	r := &rawImage{head: bytes.Clone(b[:off])}
	for i := range count {
		var rec record
		rec.get(idx[indexHeaderSize+i*recordSize:])
		r.recs = append(r.recs, rec)
		r.paths = append(r.paths, string(strtab[rec.pathOff:rec.pathOff+rec.pathLen]))
		r.links = append(r.links, string(strtab[rec.linkOff:rec.linkOff+rec.linkLen]))
	}
	return r
}

func (r *rawImage) encode() []byte {
	recs := append([]record(nil), r.recs...)
	var strtab []byte
	for i := range recs {
		recs[i].pathOff, recs[i].pathLen = uint32(len(strtab)), uint32(len(r.paths[i]))
		strtab = append(strtab, r.paths[i]...)
		recs[i].linkOff, recs[i].linkLen = 0, 0
		if r.links[i] != "" {
			recs[i].linkOff, recs[i].linkLen = uint32(len(strtab)), uint32(len(r.links[i]))
			strtab = append(strtab, r.links[i]...)
		}
	}
	if r.fixRecs != nil {
		r.fixRecs(recs)
	}
	idx := make([]byte, indexHeaderSize+len(recs)*recordSize)
	le.PutUint32(idx[0:], uint32(len(recs)))
	le.PutUint32(idx[4:], uint32(len(strtab)))
	for i := range recs {
		recs[i].put(idx[indexHeaderSize+i*recordSize:])
	}
	idx = append(idx, strtab...)
	if r.fixIndex != nil {
		idx = r.fixIndex(idx)
	}
	b := append(bytes.Clone(r.head), idx...)
	var ftr [footerSize]byte
	le.PutUint64(ftr[0:], uint64(len(r.head)))
	le.PutUint64(ftr[8:], uint64(len(idx)))
	le.PutUint32(ftr[16:], crc32.Checksum(idx, castagnoli))
	copy(ftr[24:], footerMagic)
	b = append(b, ftr[:]...)
	if r.fixImage != nil {
		b = r.fixImage(b)
	}
	return b
}

// at returns the index of the record of path p.
func (r *rawImage) at(p string) int {
	for i, q := range r.paths {
		if q == p {
			return i
		}
	}
	panic("no entry " + p)
}

// corpus is the valid image the corruption tests start from.
func corpus(t testing.TB) []byte {
	return build(t,
		dir("bin", 0o755),
		reg("bin/sh", 0o755, "#!shell"),
		hardlink("bin/ash", "bin/sh"),
		symlink("bin/bash", "sh"),
		reg("etc/empty", 0o644, ""),
		reg("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"),
		opaque("opt"),
		whiteout("var"),
	)
}

// corruption is one way to damage the corpus image.
type corruption struct {
	name string
	edit func(r *rawImage) // on the decoded corpus; nil: bad is used
	bad  func(b []byte) []byte
	want string // in Open's error
}

// apply returns the corpus image good damaged by c.
func (c corruption) apply(t testing.TB, good []byte) []byte {
	if c.edit != nil {
		r := decodeRaw(t, good)
		c.edit(r)
		return r.encode()
	}
	return c.bad(bytes.Clone(good))
}

// corruptions lists every class of damage Open must reject, applied to
// corpus(); FuzzOpen starts from them too.
func corruptions() []corruption {
	// Entries of the corpus, in index order:
	// 0 ".", 1 "bin", 2 "bin/ash", 3 "bin/bash", 4 "bin/sh", 5 "etc",
	// 6 "etc/empty", 7 "etc/passwd", 8 "opt", 9 "var"
	return []corruption{
		// Header and footer.
		{name: "empty", bad: func(b []byte) []byte { return nil }, want: "image is 0 bytes, smaller than the smallest image"},
		{name: "tiny", bad: func(b []byte) []byte { return b[:40] }, want: "smaller than the smallest image"},
		{name: "bad magic", bad: func(b []byte) []byte { b[0] = 'X'; return b }, want: "bad magic"},
		{name: "tar file", bad: func(b []byte) []byte { return append([]byte("ustar\x0000"), make([]byte, 1024)...) }, want: "bad magic"},
		{name: "future version", bad: func(b []byte) []byte { b[8] = 2; return b }, want: "format version 2, this reader supports version 1"},
		{name: "header flags", bad: func(b []byte) []byte { b[12] = 1; return b }, want: "unknown header flags 0x1"},
		{name: "truncated by one byte", bad: func(b []byte) []byte { return b[:len(b)-1] }, want: "no footer magic"},
		{name: "truncated in half", bad: func(b []byte) []byte { return b[:len(b)/2] }, want: "no footer magic"},
		{name: "footer magic", bad: func(b []byte) []byte { b[len(b)-1] = 'X'; return b }, want: "no footer magic"},
		{name: "footer reserved", bad: func(b []byte) []byte { b[len(b)-footerSize+20] = 1; return b }, want: "footer reserved field is 0x1"},
		{name: "index offset past the end", bad: func(b []byte) []byte {
			le.PutUint64(b[len(b)-footerSize:], uint64(len(b)))
			return b
		}, want: "index offset"},
		{name: "index offset inside the header", bad: func(b []byte) []byte {
			le.PutUint64(b[len(b)-footerSize:], 3)
			return b
		}, want: "index offset 3 is outside the image"},
		{name: "index offset huge", bad: func(b []byte) []byte {
			le.PutUint64(b[len(b)-footerSize:], math.MaxUint64)
			return b
		}, want: "index offset 18446744073709551615 is outside the image"},
		{name: "index length short", bad: func(b []byte) []byte {
			p := b[len(b)-footerSize+8:]
			le.PutUint64(p, le.Uint64(p)-1)
			return b
		}, want: "but the footer starts at"},
		{name: "index length huge", bad: func(b []byte) []byte {
			le.PutUint64(b[len(b)-footerSize+8:], math.MaxUint64)
			return b
		}, want: "but the footer starts at"},
		{name: "data before the footer", bad: func(b []byte) []byte {
			n := len(b)
			return append(b[:n-footerSize:n-footerSize], append([]byte("junk"), b[n-footerSize:]...)...)
		}, want: "but the footer starts at"},
		{name: "index byte flipped", bad: func(b []byte) []byte {
			b[le.Uint64(b[len(b)-footerSize:])+20] ^= 0x40
			return b
		}, want: "index checksum mismatch"},
		{name: "checksum flipped", bad: func(b []byte) []byte { b[len(b)-footerSize+16] ^= 1; return b }, want: "index checksum mismatch"},

		// Index header.
		{name: "absurd entry count", edit: func(r *rawImage) {
			r.fixIndex = func(idx []byte) []byte { le.PutUint32(idx[0:], math.MaxUint32); return idx }
		}, want: "index header says 4294967295 entries"},
		{name: "absurd string table", edit: func(r *rawImage) {
			r.fixIndex = func(idx []byte) []byte { le.PutUint32(idx[4:], math.MaxUint32); return idx }
		}, want: "4294967295 bytes of names"},
		{name: "index header reserved", edit: func(r *rawImage) {
			r.fixIndex = func(idx []byte) []byte { idx[15] = 1; return idx }
		}, want: "index header reserved field"},
		{name: "no entries", edit: func(r *rawImage) {
			r.recs, r.paths, r.links = nil, nil, nil
			r.head = r.head[:headerSize]
			r.fixIndex = func(idx []byte) []byte { return append(idx, make([]byte, recordSize)...) } // get past the size check
		}, want: "index header says 0 entries"},
		{name: "unused names", edit: func(r *rawImage) {
			r.fixIndex = func(idx []byte) []byte {
				le.PutUint32(idx[4:], le.Uint32(idx[4:])+3)
				return append(idx, "xyz"...)
			}
		}, want: "string table has 3 bytes no entry uses"},

		// Names.
		{name: "path offset wrong", edit: func(r *rawImage) {
			r.fixRecs = func(recs []record) { recs[3].pathOff++ }
		}, want: "entry 3: path at"},
		{name: "path past the string table", edit: func(r *rawImage) {
			r.fixRecs = func(recs []record) { recs[9].pathLen = 1 << 30 }
		}, want: "entry 9: path at"},
		{name: "link offset wrong", edit: func(r *rawImage) {
			r.fixRecs = func(recs []record) { recs[3].linkOff-- }
		}, want: `entry 3 ("bin/bash"): link name at`},
		{name: "link offset without a link", edit: func(r *rawImage) {
			r.fixRecs = func(recs []record) { recs[4].linkOff = 7 }
		}, want: `entry 4 ("bin/sh"): empty link name with offset 7`},
		{name: "root missing", edit: func(r *rawImage) { r.paths[0] = "root" }, want: `entry 0 ("root"): the first entry must be the root`},
		{name: "root not a dir", edit: func(r *rawImage) { r.recs[0].typ = uint8(TypeSymlink); r.links[0] = "x" }, want: `entry 0 ("."): the root is a symlink`},
		{name: "second root", edit: func(r *rawImage) { r.paths[1] = "." }, want: `entry 1 ("."): duplicate path`},
		{name: "unsorted", edit: func(r *rawImage) { r.paths[6], r.paths[7] = r.paths[7], r.paths[6] }, want: `entry 7 ("etc/empty"): index not sorted: entry comes after "etc/passwd"`},
		{name: "byte order is not index order", edit: func(r *rawImage) { r.paths[8] = "bin.d" }, want: `entry 8 ("bin.d"): index not sorted: entry comes after "etc"`},
		{name: "subtree split", edit: func(r *rawImage) { r.paths[9] = "bin/zz" }, want: `entry 9 ("bin/zz"): index not sorted: entry is not next to its parent directory "bin"`},
		{name: "duplicate", edit: func(r *rawImage) { r.paths[7] = "etc/empty" }, want: `entry 7 ("etc/empty"): duplicate path`},
		{name: "absolute path", edit: func(r *rawImage) { r.paths[1] = "/bin" }, want: `entry 1 ("/bin"): invalid path: path is absolute`},
		{name: "dot dot", edit: func(r *rawImage) { r.paths[9] = "opt/../var" }, want: `invalid path: path has a ".." element`},
		{name: "dot", edit: func(r *rawImage) { r.paths[9] = "./var" }, want: `invalid path: path has a "." element`},
		{name: "empty element", edit: func(r *rawImage) { r.paths[9] = "var//x" }, want: "invalid path: path has an empty element"},
		{name: "trailing slash", edit: func(r *rawImage) { r.paths[9] = "var/" }, want: "invalid path: path has an empty element"},
		{name: "empty path", edit: func(r *rawImage) { r.paths[9] = "" }, want: "invalid path: empty path"},
		{name: "NUL in path", edit: func(r *rawImage) { r.paths[9] = "v\x00r" }, want: "invalid path: path contains a NUL byte"},
		{name: "parent missing", edit: func(r *rawImage) { r.paths[9] = "usr/var" }, want: `entry 9 ("usr/var"): parent directory "usr" is missing`},
		{name: "parent not a dir", edit: func(r *rawImage) { r.paths[9] = "opt/x"; r.recs[8].typ = uint8(TypeWhiteout); r.recs[8].flags = 0 }, want: `entry 9 ("opt/x"): parent "opt" is a whiteout, not a directory`},

		// Fields.
		{name: "unknown type", edit: func(r *rawImage) { r.recs[8].typ = 6 }, want: `entry 8 ("opt"): unknown type 6`},
		{name: "type zero", edit: func(r *rawImage) { r.recs[8].typ = 0 }, want: "unknown type 0"},
		{name: "unknown flags", edit: func(r *rawImage) { r.recs[8].flags = 3 }, want: "unknown flags 0x3"},
		{name: "opaque file", edit: func(r *rawImage) { r.recs[4].flags = flagOpaque }, want: `entry 4 ("bin/sh"): opaque flag on a reg`},
		{name: "reserved 16", edit: func(r *rawImage) { r.recs[4].reserved16 = 1 }, want: "reserved fields are 0x1 and 0x0"},
		{name: "reserved 32", edit: func(r *rawImage) { r.recs[4].reserved32 = 1 }, want: "reserved fields are 0x0 and 0x1"},
		{name: "mode type bits", edit: func(r *rawImage) { r.recs[4].mode |= 0o100000 }, want: "mode 0100755 has bits other than 07777"},
		{name: "nanoseconds", edit: func(r *rawImage) { r.recs[4].nsec = 1e9 }, want: "mtime nanoseconds 1000000000 out of range"},
		{name: "seconds", edit: func(r *rawImage) { r.recs[4].sec = math.MaxInt64 }, want: "mtime seconds 9223372036854775807 out of range"},
		{name: "seconds just too late", edit: func(r *rawImage) { r.recs[4].sec = maxUnixSec + 1 }, want: "mtime seconds 9223371974719179008 out of range"},
		{name: "link name on a file", edit: func(r *rawImage) { r.links[4] = "x" }, want: `entry 4 ("bin/sh"): reg with a link name`},
		{name: "empty symlink", edit: func(r *rawImage) { r.links[3] = "" }, want: `entry 3 ("bin/bash"): symlink with an empty target`},
		{name: "NUL in symlink", edit: func(r *rawImage) { r.links[3] = "s\x00h" }, want: "symlink target contains a NUL byte"},
		{name: "dir with data", edit: func(r *rawImage) { r.recs[1].size = 1 }, want: `entry 1 ("bin"): dir with data (offset 0, size 1)`},
		{name: "symlink with data offset", edit: func(r *rawImage) { r.recs[3].dataOff = 16 }, want: "symlink with data (offset 16, size 0)"},
		{name: "whiteout with data", edit: func(r *rawImage) { r.recs[9].size = 5 }, want: "whiteout with data"},

		// Data.
		{name: "data overlaps", edit: func(r *rawImage) { r.recs[7].dataOff-- }, want: `entry 7 ("etc/passwd"): data at offset 22 overlaps the previous file's data (ends at 23)`},
		{name: "data gap", edit: func(r *rawImage) { r.recs[6].dataOff++ }, want: `entry 6 ("etc/empty"): data at offset 24 leaves a gap`},
		{name: "data past the section", edit: func(r *rawImage) { r.recs[7].size += 1 }, want: `entry 7 ("etc/passwd"): data at offset 23, 31 bytes, runs past the data section (ends at 53)`},
		{name: "data size huge", edit: func(r *rawImage) { r.recs[7].size = math.MaxUint64 }, want: "runs past the data section"},
		{name: "data offset huge", edit: func(r *rawImage) { r.recs[7].dataOff = math.MaxUint64 }, want: "leaves a gap"},
		{name: "data not all owned", edit: func(r *rawImage) { r.recs[7].size-- }, want: "data section has 1 bytes after the last file's data"},
		{name: "data section missing", edit: func(r *rawImage) { r.head = r.head[:headerSize+5] }, want: `entry 4 ("bin/sh"): data at offset 16, 7 bytes, runs past the data section (ends at 21)`},

		// Hard links.
		{name: "hard link target missing", edit: func(r *rawImage) { r.links[2] = "bin/zsh" }, want: `entry 2 ("bin/ash"): hard link target "bin/zsh" is missing`},
		{name: "hard link to a symlink", edit: func(r *rawImage) { r.links[2] = "bin/bash" }, want: `hard link target "bin/bash" is a symlink, not a regular file`},
		{name: "hard link to itself", edit: func(r *rawImage) { r.links[2] = "bin/ash" }, want: `entry 2 ("bin/ash"): hard link target "bin/ash" is a hardlink`},
		{name: "hard link to the root", edit: func(r *rawImage) { r.links[2] = "." }, want: `entry 2 ("bin/ash"): invalid hard link target "."`},
		{name: "hard link target invalid", edit: func(r *rawImage) { r.links[2] = "../etc/passwd" }, want: `invalid hard link target "../etc/passwd": path has a ".." element`},
		{name: "hard link empty", edit: func(r *rawImage) { r.links[2] = "" }, want: "hardlink with an empty target"},
		{name: "hard link size differs", edit: func(r *rawImage) { r.recs[2].size-- }, want: `data (offset 16, size 6) differs from hard link target "bin/sh"'s (offset 16, size 7)`},
		{name: "hard link offset differs", edit: func(r *rawImage) { r.recs[2].dataOff++ }, want: "differs from hard link target"},
		{name: "hard link data outside", edit: func(r *rawImage) { r.recs[2].dataOff = math.MaxUint64 }, want: "outside the data section"},
	}
}

func TestOpenCorrupt(t *testing.T) {
	good := corpus(t)
	for _, tc := range corruptions() {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.apply(t, good)
			img, err := openBytes(b)
			if err == nil {
				t.Fatalf("Open succeeded with %d entries", len(img.Entries()))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open error %v does not match ErrCorrupt", err)
			}
		})
	}

	t.Run("unchanged", func(t *testing.T) {
		b := decodeRaw(t, good).encode()
		if !bytes.Equal(b, good) {
			t.Fatal("decodeRaw+encode changed the image; the corruption cases test nothing")
		}
		mustOpen(t, b)
	})
}

// shortReader holds fewer bytes than the size Open is given, or fails.
type shortReader struct {
	b   []byte
	err error // returned instead of io.EOF
}

func (s *shortReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(s.b)) {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	n := copy(p, s.b[off:])
	if n < len(p) {
		if s.err != nil {
			return n, s.err
		}
		return n, io.EOF
	}
	return n, nil
}

func TestOpenReaderErrors(t *testing.T) {
	good := corpus(t)
	boom := errors.New("boom")
	t.Run("size larger than the data", func(t *testing.T) {
		_, err := Open(&shortReader{b: good}, int64(len(good))+100)
		if err == nil || !strings.Contains(err.Error(), "reading footer") || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open = %v, want a truncated footer error", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		_, err := Open(&shortReader{b: good[:len(good)-footerSize-1], err: boom}, int64(len(good)))
		if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open = %v, want boom and not ErrCorrupt", err)
		}
	})
	t.Run("nil reader", func(t *testing.T) {
		if _, err := Open(nil, 100); err == nil {
			t.Fatal("Open(nil) succeeded")
		}
	})
	t.Run("huge claimed index", func(t *testing.T) {
		// The footer claims an index of almost 1 TiB; the reader holds a
		// few bytes. Open must fail without allocating the claim.
		const size = 1 << 40
		var tail [footerSize]byte
		le.PutUint64(tail[0:], headerSize)
		le.PutUint64(tail[8:], size-headerSize-footerSize)
		copy(tail[24:], footerMagic)
		r := &sparse{size: size, at: map[int64][]byte{0: good[:headerSize], size - footerSize: tail[:]}}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Open(r, size)
		runtime.ReadMemStats(&after)
		if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "reading index at offset 16") {
			t.Fatalf("Open = %v, want a truncated index error", err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
			t.Errorf("Open allocated %d bytes for a claimed index of %d bytes; want it bounded by what was read", n, size)
		}
	})
}

// sparse is a huge io.ReaderAt with data only at a few offsets; reads
// anywhere else fail as a truncated file would.
type sparse struct {
	size int64
	at   map[int64][]byte
}

func (s *sparse) ReadAt(p []byte, off int64) (int, error) {
	if b, ok := s.at[off]; ok && len(p) <= len(b) {
		return copy(p, b), nil
	}
	return 0, io.ErrUnexpectedEOF
}

func TestImageErrors(t *testing.T) {
	img := mustOpen(t, corpus(t))
	if _, err := img.Children("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Children(nope) = %v, want ErrNotExist", err)
	}
	if _, err := img.Children("bin/sh"); !errors.Is(err, ErrNotDir) {
		t.Errorf("Children(bin/sh) = %v, want ErrNotDir", err)
	}
	if _, err := img.Content("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Content(nope) = %v, want ErrNotExist", err)
	}
	for _, p := range []string{".", "bin", "bin/bash", "var"} {
		if _, err := img.Content(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Content(%q) = %v, want not a regular file", p, err)
		}
	}
	for _, p := range []string{"", "/", "/bin", "bin/", "./bin", "nope", "bin/sh/x"} {
		if e, ok := img.Lookup(p); ok {
			t.Errorf("Lookup(%q) = %+v, want not found", p, e)
		}
	}
}

func TestImageChildren(t *testing.T) {
	img := mustOpen(t, corpus(t))
	tests := []struct {
		dir  string
		want []string
	}{
		{".", []string{"bin", "etc", "opt", "var"}},
		{"bin", []string{"bin/ash", "bin/bash", "bin/sh"}},
		{"etc", []string{"etc/empty", "etc/passwd"}},
		{"opt", nil},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			kids, err := img.Children(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range kids {
				got = append(got, k.Path)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Children(%q) mismatch (-want +got):\n%s", tc.dir, diff)
			}
		})
	}
}
