package convert

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/wasmbox/wasmbox/runtime"
)

// dispatchAdd is COPY plus Docker's ADD extras: a local tar archive
// (plain, gzip or bzip2) is extracted into the destination. Remote URLs
// and git sources need the network, which a build does not have.
func (s *stage) dispatchAdd(c *instructions.AddCommand) error {
	for _, p := range c.SourcePaths {
		if strings.Contains(p, "://") || strings.HasPrefix(p, "git@") {
			return fmt.Errorf("ADD %s: a build has no network: download it next to the Dockerfile and COPY or ADD the file", p)
		}
	}
	if c.Checksum != "" {
		return fmt.Errorf("ADD --checksum applies to URLs only, and a build cannot download")
	}
	unpack := c.Unpack == nil || *c.Unpack
	return s.copy(copyReq{SourcesAndDest: c.SourcesAndDest, Chown: c.Chown, Chmod: c.Chmod, name: "ADD", unpack: unpack})
}

// unpackArchive extracts the file p of src into dest when it is a tar
// archive; unpacked is false (and nothing written) when it is not one.
// Entries are kept inside dest: names are cleaned of leading "/" and "..".
func unpackArchive(ov *runtime.Overlay, src copySource, p, dest string, own copyOwner) (unpacked bool, err error) {
	f, err := src.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(512)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return false, nil
		}
		defer zr.Close()
		r = zr
		head = nil
	case bytes.HasPrefix(head, []byte("BZh")):
		r = bzip2.NewReader(br)
		head = nil
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return false, errors.New("xz-compressed archives are not supported yet")
	}
	if head != nil && !(len(head) >= 262 && string(head[257:262]) == "ustar") {
		return false, nil
	}
	tr := tar.NewReader(r)
	for first := true; ; first = false {
		h, err := tr.Next()
		if err == io.EOF {
			return !first, nil
		}
		if err != nil {
			if first {
				return false, nil // compressed but not a tar: copied as it is
			}
			return true, fmt.Errorf("reading the archive: %w", err)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		target := path.Join(dest, name)
		boxPath := strings.TrimPrefix(target, "/")
		mode := fs.FileMode(h.Mode) & fs.ModePerm
		if own.mode != 0 {
			mode = own.mode
		}
		uid, gid := uint32(h.Uid), uint32(h.Gid)
		if own.uid != 0 || own.gid != 0 {
			uid, gid = own.uid, own.gid
		}
		if err := ov.MkdirAll(path.Dir(target), 0o755); err != nil {
			return true, err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := ov.MkdirAll(target, mode); err != nil {
				return true, err
			}
			ov.Chmod(boxPath, mode)
			ov.Lchown(boxPath, uid, gid)
		case tar.TypeReg:
			data, err := io.ReadAll(io.LimitReader(tr, h.Size))
			if err != nil {
				return true, fmt.Errorf("%s: %w", h.Name, err)
			}
			ov.Unlink(boxPath)
			if err := ov.WriteFile(target, data, mode, uid, gid, h.ModTime); err != nil {
				return true, err
			}
		case tar.TypeSymlink:
			ov.Unlink(boxPath)
			if errno := ov.Symlink(h.Linkname, boxPath); errno != 0 {
				return true, &fs.PathError{Op: "symlink", Path: target, Err: errno}
			}
		case tar.TypeLink:
			old := strings.TrimPrefix(path.Join(dest, strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")), "/")
			ov.Unlink(boxPath)
			if errno := ov.Link(old, boxPath); errno != 0 {
				return true, &fs.PathError{Op: "link", Path: target, Err: errno}
			}
		default:
			// Devices, FIFOs: a box has none.
		}
	}
}
