package oci

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// annotationContainerdName is where docker save and containerd put the
// full name of an image (ref.name then holds only the tag).
const annotationContainerdName = "io.containerd.image.name"

// Save writes the boxes refs of the store to w as an OCI image layout in a
// tar archive (oci/SPEC.md): the store's own blobs, uncompressed, and an
// index naming each box as the store does, so that Load gives back the
// same boxes with the same digests. The archive is the same for the same
// boxes (entries sorted, no times or owners).
func Save(ctx context.Context, s *Store, w io.Writer, refs ...string) error {
	if len(refs) == 0 {
		return errors.New("saving: no box named")
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	blobs := map[digest.Digest]int64{}
	seen := map[string]bool{}
	for _, ref := range refs {
		img, err := s.Resolve(ref)
		if err != nil {
			return fmt.Errorf("saving: %w", err)
		}
		key := img.Ref + "@" + img.Descriptor.Digest.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: img.Descriptor.Digest, Size: img.Descriptor.Size,
			Platform: &ocispec.Platform{OS: OS, Architecture: Architecture}}
		if img.Ref != "" {
			d.Annotations = map[string]string{ocispec.AnnotationRefName: img.Ref}
		}
		idx.Manifests = append(idx.Manifests, d)
		blobs[img.Descriptor.Digest] = img.Descriptor.Size
		blobs[img.Manifest.Config.Digest] = img.Manifest.Config.Size
		for _, l := range img.Manifest.Layers {
			blobs[l.Digest] = l.Size
		}
	}
	ib, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	lb, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	tw := tar.NewWriter(w)
	file := func(name string, size int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX})
	}
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: time.Unix(0, 0), Format: tar.FormatPAX})
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{ocispec.ImageLayoutFile, lb}, {ocispec.ImageIndexFile, ib}} {
		if err := file(f.name, int64(len(f.data))); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	ds := make([]digest.Digest, 0, len(blobs))
	for d := range blobs {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	for _, d := range ds {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := file("blobs/sha256/"+d.Encoded(), blobs[d]); err != nil {
			return err
		}
		if err := copyBlob(tw, s, d, blobs[d]); err != nil {
			return fmt.Errorf("saving: %w", err)
		}
	}
	return tw.Close()
}

// copyBlob copies the store's blob d of size bytes to w, checking it.
func copyBlob(w io.Writer, s *Store, d digest.Digest, size int64) error {
	f, err := os.Open(s.BlobPath(d))
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	if got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))); n != size || got != d {
		return fmt.Errorf("blob %s in the store is corrupt: %d bytes with digest %s", d, n, got)
	}
	return nil
}

// Load reads an OCI image layout archive (a tar, or a gzip-compressed
// tar) and stores every box its index names, under the names it gives
// (org.opencontainers.image.ref.name, or io.containerd.image.name when
// present). Layers may be stored (as Save writes them) or gzip-compressed
// (as Push sends them). Every blob is checked against its digest and every
// layer opened before anything enters the store: an archive with any bad
// part stores nothing. It returns the boxes loaded.
func Load(ctx context.Context, s *Store, r io.Reader, opts ...Option) ([]*Image, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	release, err := s.Lease()
	if err != nil {
		return nil, err
	}
	defer release()
	st, err := s.newStage()
	if err != nil {
		return nil, err
	}
	defer st.close()
	arch, err := readArchive(ctx, r, filepath.Join(st.dir, "archive"))
	if err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}
	type named struct {
		name string
		desc ocispec.Descriptor
	}
	var boxes []named
	im := &importer{st: st, src: arch, o: o}
	for i, d := range arch.index.Manifests {
		where := fmt.Sprintf("index.json manifest %d", i+1)
		ref := d.Annotations[annotationContainerdName]
		if ref == "" {
			ref = d.Annotations[ocispec.AnnotationRefName]
		}
		name := ""
		if ref != "" {
			if name, err = NormalizeRef(ref); err != nil {
				return nil, fmt.Errorf("loading: %s: %w", where, err)
			}
			where += " (" + ref + ")"
		}
		desc, err := loadOne(ctx, im, where, d)
		if err != nil {
			return nil, fmt.Errorf("loading: %w", err)
		}
		boxes = append(boxes, named{name, desc})
	}
	if err := st.commit(); err != nil {
		return nil, err
	}
	var out []*Image
	for _, b := range boxes {
		if b.name == "" {
			if err := s.addUnnamed(b.desc); err != nil {
				return nil, err
			}
			img, err := s.Resolve(b.desc.Digest.String())
			if err != nil {
				return nil, err
			}
			out = append(out, img)
			continue
		}
		if err := s.Tag(b.name, b.desc); err != nil {
			return nil, err
		}
		img, err := s.Resolve(b.name)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// loadOne stages the box of the index entry d (a manifest, or an index
// holding a wasip1/wasm manifest).
func loadOne(ctx context.Context, im *importer, where string, d ocispec.Descriptor) (ocispec.Descriptor, error) {
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		raw, err := im.fetchJSON(ctx, "image index", d)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("%s: %w", where, err)
		}
		if d, err = pickBox(where, raw); err != nil {
			return ocispec.Descriptor{}, err
		}
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
	default:
		return ocispec.Descriptor{}, fmt.Errorf("%s: media type %q is not an image manifest or index", where, d.MediaType)
	}
	raw, err := im.fetchJSON(ctx, "manifest", d)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", where, err)
	}
	desc, err := im.box(ctx, where, raw)
	if err != nil {
		var nb *NotABoxError
		if errors.As(err, &nb) {
			return ocispec.Descriptor{}, err
		}
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", where, err)
	}
	return desc, nil
}

// archive is an extracted image layout whose blobs were all checked
// against their names.
type archive struct {
	dir   string
	index ocispec.Index
	blobs map[digest.Digest]int64
}

func (a *archive) fetch(_ context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if _, ok := a.blobs[desc.Digest]; !ok {
		return nil, fmt.Errorf("blob %s is not in the archive", desc.Digest)
	}
	return os.Open(filepath.Join(a.dir, desc.Digest.Encoded()))
}

// readArchive extracts the image layout archive r into dir (blobs by their
// hex digest), checking each blob's digest and the layout's two files.
// Nothing but the parts of an image layout is written: other entries,
// links and devices are errors naming them (docker save's manifest.json
// and repositories are skipped).
func readArchive(ctx context.Context, r io.Reader, dir string) (*archive, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	a := &archive{dir: dir, blobs: map[digest.Digest]int64{}}
	var layout, index []byte
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("not a tar archive (or a truncated one): %w", err)
			}
			return nil, err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		bad := func(format string, args ...any) error {
			return fmt.Errorf("archive entry %q: %s", h.Name, fmt.Sprintf(format, args...))
		}
		plain := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		if plain == "." {
			plain = ""
		}
		if name != plain {
			return nil, bad("not a plain path inside the archive")
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if name != "" && name != "blobs" && !strings.HasPrefix(name, "blobs/") {
				return nil, bad("unexpected directory in an OCI image layout")
			}
			continue
		case tar.TypeReg:
		default:
			return nil, bad("a %s: an OCI image layout holds only files and directories", typeName(h.Typeflag))
		}
		switch {
		case name == ocispec.ImageLayoutFile || name == ocispec.ImageIndexFile:
			if h.Size > maxJSONBlob {
				return nil, bad("%d bytes, more than %d", h.Size, maxJSONBlob)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, bad("%v", err)
			}
			if name == ocispec.ImageLayoutFile {
				layout = b
			} else {
				index = b
			}
		case name == "manifest.json" || name == "repositories":
			// docker save writes these beside the layout; the index says it all.
		case strings.HasPrefix(name, "blobs/sha256/"):
			d := digest.NewDigestFromEncoded(digest.SHA256, strings.TrimPrefix(name, "blobs/sha256/"))
			if d.Validate() != nil {
				return nil, bad("not a blob name (blobs/sha256/ and 64 hex digits)")
			}
			f, err := os.Create(filepath.Join(dir, d.Encoded()))
			if err != nil {
				return nil, err
			}
			hr := &hashReader{r: tr, h: sha256.New()}
			_, err = io.Copy(f, hr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, bad("%v", err)
			}
			if got := hr.digest(); got != d {
				return nil, fmt.Errorf("archive blob %s is corrupt or tampered with: its content has digest %s", d, got)
			}
			a.blobs[d] = hr.n
		case strings.HasPrefix(name, "blobs/"):
			return nil, bad("digest algorithm %q not supported (sha256 only)", strings.SplitN(name, "/", 3)[1])
		default:
			return nil, bad("not part of an OCI image layout")
		}
	}
	if layout == nil {
		return nil, errors.New("no oci-layout file: not an OCI image layout archive (a docker-archive from an older docker save?)")
	}
	var l ocispec.ImageLayout
	if err := json.Unmarshal(layout, &l); err != nil {
		return nil, fmt.Errorf("oci-layout: malformed JSON: %w", err)
	}
	if l.Version != ocispec.ImageLayoutVersion {
		return nil, fmt.Errorf("oci-layout: imageLayoutVersion %q, want %q", l.Version, ocispec.ImageLayoutVersion)
	}
	if index == nil {
		return nil, errors.New("no index.json: not an OCI image layout archive")
	}
	if err := json.Unmarshal(index, &a.index); err != nil {
		return nil, fmt.Errorf("index.json: malformed JSON: %w", err)
	}
	if a.index.SchemaVersion != 2 {
		return nil, fmt.Errorf("index.json: schemaVersion %d, want 2", a.index.SchemaVersion)
	}
	if len(a.index.Manifests) == 0 {
		return nil, errors.New("index.json names no image")
	}
	return a, nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("entry of type %q", t)
}
