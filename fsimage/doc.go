// Package fsimage owns the packed file system image ("fsimage") that holds
// each layer of a wasmbox box: its byte format (see FORMAT.md), the Writer
// that builds one deterministically, the reader (Open) that serves it in
// place, Stack, which merges layers with their whiteouts and opaque
// directories, and FS, the io/fs view of an image or a stack.
//
// An image is random-access: Open reads only the header, the footer and the
// index, and Content returns an io.SectionReader over the caller's
// io.ReaderAt, so nothing is ever extracted. Everything an image holds
// (paths, modes, owners, times to the nanosecond, link targets) lives in its
// bytes, because WASI has no permission bits of its own.
//
// The small core is the Tree interface (Lookup, Children, Content), which
// both *Image and Stack implement; FS builds the whole io/fs view from it.
//
// Two algorithms every layer of wasmbox shares live here, once, because
// fsimage sits at the bottom and the guest programs may import it too:
// Walk, the symlink-confined path walk (FS, the runtime's overlay and the
// flattening of foreign images resolve names through it, so no link leads
// out of a root anywhere), and UnixMode/GoMode, the conversion between
// POSIX and Go mode bits.
//
// What the package must not do: touch the host file system (it reads only
// the io.ReaderAt and io.Reader values it is given, and writes only to the
// io.Writer it is given), import anything but the standard library (it sits
// at the bottom of the package graph in DESIGN.md), print, or trust its
// input: a corrupt or hostile image is an error wrapping ErrCorrupt, never a
// panic and never an allocation larger than the input.
package fsimage
