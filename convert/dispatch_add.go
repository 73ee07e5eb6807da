package convert

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/opencontainers/go-digest"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasmbox/wasmbox/internal/engine"
)

// dispatchAdd is COPY plus Docker's ADD extras: a local tar archive
// (plain, gzip or bzip2) is extracted into the destination; an http(s)
// URL is downloaded by wasmbox (not by the box) when the build was granted
// downloads, checked against --checksum when given. Git sources need
// tools a box does not have.
func (s *stage) dispatchAdd(c *instructions.AddCommand) error {
	var urls []string
	for _, p := range c.SourcePaths {
		switch {
		case strings.HasPrefix(p, "git@") || strings.HasPrefix(p, "git://") || strings.HasSuffix(strings.SplitN(p, "#", 2)[0], ".git"):
			return fmt.Errorf("ADD %s: git sources are not supported: clone the repository next to the Dockerfile and COPY it", p)
		case strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://"):
			urls = append(urls, p)
		case strings.Contains(p, "://"):
			return fmt.Errorf("ADD %s: only http and https URLs can be downloaded", p)
		}
	}
	if len(urls) > 0 {
		if len(urls) != len(c.SourcePaths) || len(c.SourceContents) > 0 {
			return fmt.Errorf("ADD: mixing URLs and local files in one ADD is not supported; use one ADD for each")
		}
		return s.addURLs(c, urls)
	}
	if c.Checksum != "" {
		return fmt.Errorf("ADD --checksum applies to URLs only")
	}
	unpack := c.Unpack == nil || *c.Unpack
	return s.copy(copyReq{SourcesAndDest: c.SourcesAndDest, Chown: c.Chown, Chmod: c.Chmod, name: "ADD", unpack: unpack, exclude: c.ExcludePatterns})
}

// maxDownload bounds what one ADD may download.
const maxDownload = 1 << 30

// addURLs downloads urls into the destination, as Docker: mode 0600,
// named after the URL's path when the destination is a directory, the
// modification time from Last-Modified, archives not extracted.
func (s *stage) addURLs(c *instructions.AddCommand, urls []string) error {
	if s.b.opts.client == nil {
		return fmt.Errorf("ADD %s: downloads are not granted to this build (wasmbox build --allow-downloads): a build has no network unless you allow it", urls[0])
	}
	if c.Checksum != "" && len(urls) > 1 {
		return fmt.Errorf("ADD --checksum: only one URL can be checked at a time")
	}
	dest := c.DestPath
	wantDir := strings.HasSuffix(dest, "/") || len(urls) > 1
	if !path.IsAbs(dest) {
		dest = path.Join(orRoot(s.image.Config.WorkingDir), dest)
	}
	dest = path.Clean(dest)
	_, ov := s.overlay()
	own, err := ownerFlags(ov, "ADD", c.Chown, c.Chmod)
	if err != nil {
		return err
	}
	if st, errno := ov.Stat(strings.TrimPrefix(dest, "/")); errno == 0 && st.Mode.IsDir() {
		wantDir = true
	}
	type download struct {
		url, target string
		data        []byte
		mtime       time.Time
	}
	var downloads []download
	h := sha256.New()
	for _, u := range urls {
		data, mtime, err := s.fetch(u, c.Checksum)
		if err != nil {
			return err
		}
		target := dest
		if wantDir {
			name := path.Base(strings.SplitN(strings.SplitN(u, "?", 2)[0], "#", 2)[0])
			if name == "" || name == "/" || name == "." || strings.HasSuffix(u, "/") || strings.Count(u, "/") < 3 {
				return fmt.Errorf("ADD %s: cannot name the downloaded file after the URL: give a file name as the destination", u)
			}
			target = path.Join(dest, name)
		}
		fmt.Fprintf(h, "%s\x00%s\x00%x\x00%d\x00", u, target, sha256.Sum256(data), mtime.Unix())
		downloads = append(downloads, download{u, target, data, mtime})
	}
	createdBy := fmt.Sprintf("ADD %s %s", strings.Join(urls, " "), c.DestPath)
	key := cacheKey(s.key, "ADD-URL", fmt.Sprintf("%x", h.Sum(nil)), fmt.Sprint(own.uid, own.gid, uint32(own.mode)))
	if hit, err := s.fromCache(key, createdBy); hit || err != nil {
		return err
	}
	for _, d := range downloads {
		mode := own.mode
		if mode == 0 {
			mode = 0o600
		}
		if err := ov.MkdirAll(path.Dir(d.target), 0o755); err != nil {
			return fmt.Errorf("ADD %s: %w", d.url, err)
		}
		if err := ov.WriteFile(d.target, d.data, mode, own.uid, own.gid, d.mtime); err != nil {
			return fmt.Errorf("ADD %s: %w", d.url, err)
		}
	}
	return s.commit(ov, createdBy, key)
}

// fetch downloads u, checking it against checksum (digest form,
// sha256:HEX) when given.
func (s *stage) fetch(u, checksum string) ([]byte, time.Time, error) {
	var want digest.Digest
	if checksum != "" {
		var err error
		if want, err = digest.Parse(checksum); err != nil {
			return nil, time.Time{}, fmt.Errorf("ADD --checksum=%s: %v (want sha256:HEX)", checksum, err)
		}
	}
	req, err := http.NewRequestWithContext(s.b.ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("ADD %s: %w", u, err)
	}
	resp, err := s.b.opts.client.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("ADD %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, time.Time{}, fmt.Errorf("ADD %s: the server answered %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("ADD %s: %w", u, err)
	}
	if len(data) > maxDownload {
		return nil, time.Time{}, fmt.Errorf("ADD %s: larger than %d bytes", u, maxDownload)
	}
	if want != "" {
		if !want.Algorithm().Available() {
			return nil, time.Time{}, fmt.Errorf("ADD --checksum=%s: unsupported algorithm", checksum)
		}
		if got := want.Algorithm().FromBytes(data); got != want {
			return nil, time.Time{}, fmt.Errorf("ADD %s: checksum mismatch: got %s, want %s", u, got, want)
		}
	}
	mtime := time.Unix(0, 0).UTC()
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = lm
	}
	return data, mtime, nil
}

// unpackArchive extracts the file p of src into dest when it is a tar
// archive; unpacked is false (and nothing written) when it is not one.
// Entries are kept inside dest, as in Docker: names are cleaned of leading
// "/" and "..", and no link (of the archive or of the box) leads an entry
// out of it (see extraction).
func unpackArchive(ctx context.Context, ov engine.FS, src copySource, p, dest string, own copyOwner) (unpacked bool, err error) {
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
	var x *extraction
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return true, err
		}
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
		if x == nil {
			if x, err = newExtraction(ov, dest); err != nil {
				return true, err
			}
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		at, err := x.parent(name)
		if err != nil {
			return true, err
		}
		mode := fs.FileMode(h.Mode) & fs.ModePerm
		if own.mode != 0 {
			mode = own.mode
		}
		uid, gid := uint32(h.Uid), uint32(h.Gid)
		if own.uid != 0 || own.gid != 0 {
			uid, gid = own.uid, own.gid
		}
		switch h.Typeflag {
		case tar.TypeDir:
			// What is there and is no directory (a link of the archive
			// included) is replaced, as Docker does.
			x.remove(at)
			if errno := ov.Mkdir(at, mode); errno != 0 && errno != experimentalsys.EEXIST {
				return true, &fs.PathError{Op: "mkdir", Path: "/" + at, Err: errno}
			}
			x.dirs[name+"/"] = at
			ov.Chmod(at, mode)
			ov.Lchown(at, uid, gid)
		case tar.TypeReg:
			x.remove(at)
			// In pieces, as it is decompressed: the layer's capacity
			// (the build's memory limit) stops a bomb.
			if err := (boxWriter{ov, copyOwner{uid: uid, gid: gid}}).file(at, tr, mode, h.ModTime); err != nil {
				return true, fmt.Errorf("%s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			if err := x.symlinkTarget(name, at, h.Linkname); err != nil {
				return true, err
			}
			x.remove(at)
			if errno := ov.Symlink(h.Linkname, at); errno != 0 {
				return true, &fs.PathError{Op: "symlink", Path: "/" + at, Err: errno}
			}
		case tar.TypeLink:
			old, err := x.hardlinkTarget(name, h.Linkname)
			if err != nil {
				return true, err
			}
			x.remove(at)
			if errno := ov.Link(old, at); errno != 0 {
				return true, &fs.PathError{Op: "link", Path: "/" + at, Err: errno}
			}
		default:
			// Devices, FIFOs: a box has none.
		}
	}
}
