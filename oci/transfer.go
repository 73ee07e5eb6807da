package oci

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
)

// Media types of Docker's own manifests, recognized to say what a foreign
// image is.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
)

// A fetcher opens blobs of one source (a registry repository, an
// archive). What it yields is not trusted: the importer checks it.
type fetcher interface {
	fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)
}

// importer brings boxes from a fetcher into a stage.
type importer struct {
	st  *stage
	src fetcher
	o   *options
}

// fetchJSON reads the manifest, index or config desc, checking its size
// and digest.
func (im *importer) fetchJSON(ctx context.Context, what string, desc ocispec.Descriptor) ([]byte, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%s: digest %q: %w", what, desc.Digest, err)
	}
	if desc.Size < 0 || desc.Size > maxJSONBlob {
		return nil, fmt.Errorf("%s %s: size %d is out of bounds (0..%d)", what, desc.Digest, desc.Size, maxJSONBlob)
	}
	rc, err := im.src.fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("fetching %s %s: %w", what, desc.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, desc.Size+1))
	if err != nil {
		// Some fetchers check digests themselves; say ours when it differs.
		if got := digest.FromBytes(b); int64(len(b)) == desc.Size && got != desc.Digest {
			return nil, tampered(what, desc.Digest, got)
		}
		return nil, fmt.Errorf("fetching %s %s: %w", what, desc.Digest, err)
	}
	if int64(len(b)) != desc.Size {
		return nil, fmt.Errorf("%s %s: %d bytes, its descriptor says %d", what, desc.Digest, len(b), desc.Size)
	}
	if got := digest.FromBytes(b); got != desc.Digest {
		return nil, tampered(what, desc.Digest, got)
	}
	return b, nil
}

func tampered(what string, want, got digest.Digest) error {
	return fmt.Errorf("%s %s is corrupt or tampered with: its content has digest %s", what, want, got)
}

// pickBox returns the wasip1/wasm manifest of an index, or a
// *NotABoxError naming the platforms found.
func pickBox(ref string, raw []byte) (ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("image index: malformed JSON: %w", err)
	}
	var platforms []string
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.OS == OS && d.Platform.Architecture == Architecture {
			return d, nil
		}
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
	}
	return ocispec.Descriptor{}, &NotABoxError{Ref: ref, Reason: fmt.Sprintf("an image index with no %s/%s image (it has %v)", OS, Architecture, platforms)}
}

// box stages the box whose manifest raw (already checked against its
// digest) came from ref, and returns the descriptor of its manifest in the
// store. A foreign image is a *NotABoxError.
func (im *importer) box(ctx context.Context, ref string, raw []byte) (ocispec.Descriptor, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: malformed JSON: %w", digest.FromBytes(raw), err)
	}
	mdigest := digest.FromBytes(raw)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("manifest %s: %s", mdigest, fmt.Sprintf(format, args...))
	}
	if m.SchemaVersion != 2 {
		return ocispec.Descriptor{}, bad("schemaVersion %d, want 2", m.SchemaVersion)
	}
	switch m.MediaType {
	case ocispec.MediaTypeImageManifest, "", mediaTypeDockerManifest:
	default:
		return ocispec.Descriptor{}, bad("media type %q is not an image manifest", m.MediaType)
	}
	if m.Config.MediaType != ocispec.MediaTypeImageConfig && m.Config.MediaType != mediaTypeDockerConfig {
		return ocispec.Descriptor{}, &NotABoxError{Ref: ref, Reason: fmt.Sprintf("config media type %q is not an image config", m.Config.MediaType)}
	}
	cb, err := im.fetchJSON(ctx, "config", m.Config)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(cb, &cfg); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("config %s: malformed JSON: %w", m.Config.Digest, err)
	}
	if cfg.OS != OS || cfg.Architecture != Architecture {
		return ocispec.Descriptor{}, &NotABoxError{Ref: ref, Reason: fmt.Sprintf("platform %s/%s, not %s/%s", cfg.OS, cfg.Architecture, OS, Architecture)}
	}
	if m.MediaType == mediaTypeDockerManifest || m.Config.MediaType != ocispec.MediaTypeImageConfig {
		return ocispec.Descriptor{}, bad("a box has an OCI image manifest and config, not %s and %s", m.MediaType, m.Config.MediaType)
	}
	for i, l := range m.Layers {
		if l.MediaType != MediaTypeFSImage && l.MediaType != MediaTypeFSImageGzip {
			return ocispec.Descriptor{}, &NotABoxError{Ref: ref, Reason: fmt.Sprintf("layer %d has media type %q, not an fsimage", i+1, l.MediaType)}
		}
	}
	if cfg.RootFS.Type != "layers" {
		return ocispec.Descriptor{}, fmt.Errorf("config %s: rootfs type %q, want \"layers\"", m.Config.Digest, cfg.RootFS.Type)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s has %d layers but its config %s lists %d diff IDs", mdigest, len(m.Layers), m.Config.Digest, len(cfg.RootFS.DiffIDs))
	}
	local := m
	local.MediaType = ocispec.MediaTypeImageManifest
	local.Layers = make([]ocispec.Descriptor, len(m.Layers))
	for i, l := range m.Layers {
		ld, err := im.layer(ctx, l, cfg.RootFS.DiffIDs[i])
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("layer %d of %d: %w", i+1, len(m.Layers), err)
		}
		local.Layers[i] = ld
	}
	if _, err := im.st.write(m.Config.MediaType, cb); err != nil {
		return ocispec.Descriptor{}, err
	}
	// A manifest already in the store's form (from an archive Save wrote)
	// is kept byte for byte; a wire manifest is turned back into the
	// store's, as Commit would have written it.
	mb := raw
	if m.MediaType != local.MediaType || !sameLayers(m.Layers, local.Layers) {
		if mb, err = json.Marshal(local); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	desc, err := im.st.write(ocispec.MediaTypeImageManifest, mb)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc.Platform = &ocispec.Platform{OS: OS, Architecture: Architecture}
	return desc, nil
}

func sameLayers(a, b []ocispec.Descriptor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Digest != b[i].Digest || a[i].MediaType != b[i].MediaType {
			return false
		}
	}
	return true
}

// layer stages the layer w whose uncompressed content must be diffID, and
// returns its descriptor in the store. A layer already in the store is not
// fetched again.
func (im *importer) layer(ctx context.Context, w ocispec.Descriptor, diffID digest.Digest) (ocispec.Descriptor, error) {
	if err := w.Digest.Validate(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("digest %q: %w", w.Digest, err)
	}
	if err := diffID.Validate(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("diff ID %q: %w", diffID, err)
	}
	if w.Size < 0 {
		return ocispec.Descriptor{}, fmt.Errorf("%s: negative size %d", w.Digest, w.Size)
	}
	want, compressed := w.Size, w.MediaType == MediaTypeFSImageGzip
	if compressed {
		n, err := uncompressedSize(w)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("%s: %w", w.Digest, err)
		}
		want = n
	} else if w.Digest != diffID {
		return ocispec.Descriptor{}, fmt.Errorf("%s is uncompressed but its config lists diff ID %s", w.Digest, diffID)
	}
	if info, err := os.Stat(im.st.s.BlobPath(diffID)); err == nil {
		if info.Size() != want {
			return ocispec.Descriptor{}, fmt.Errorf("%s: %d bytes uncompressed, but the store's %s has %d", w.Digest, want, diffID, info.Size())
		}
		im.o.progress(Progress{Digest: w.Digest, MediaType: w.MediaType, Size: w.Size, State: Exists})
		return localLayer(w, diffID, want), nil
	}
	if _, ok := im.st.blobs[diffID]; ok { // the same layer twice in one transfer
		return localLayer(w, diffID, want), nil
	}
	rc, err := im.src.fetch(ctx, w)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("fetching %s: %w", w.Digest, err)
	}
	defer rc.Close()
	f, err := im.st.create()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer f.Close()

	// The wire bytes: counted, hashed, reported, bounded.
	wire := &hashReader{r: io.LimitReader(rc, w.Size+1), h: sha256.New(), report: func(n int64) {
		im.o.progress(Progress{Digest: w.Digest, MediaType: w.MediaType, Size: w.Size, Done: n})
	}}
	var body io.Reader = wire
	var zr *gzip.Reader
	if compressed {
		zr, err = gzip.NewReader(bufio.NewReader(wire))
		if err != nil {
			return ocispec.Descriptor{}, im.wireError(w, wire, fmt.Errorf("not gzip data: %w", err))
		}
		body = zr
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(body, want+1))
	if err == nil && compressed {
		// The rest of the compressed stream counts for its digest.
		_, err = io.Copy(io.Discard, wire)
	}
	if err != nil {
		return ocispec.Descriptor{}, im.wireError(w, wire, err)
	}
	if err := im.wireCheck(w, wire); err != nil {
		return ocispec.Descriptor{}, err
	}
	got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
	if n != want {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %d bytes uncompressed, want %d", w.Digest, n, want)
	}
	if got != diffID {
		return ocispec.Descriptor{}, fmt.Errorf("%s: its uncompressed content has digest %s, but the config lists diff ID %s", w.Digest, got, diffID)
	}
	if _, err := fsimage.Open(f, n); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s is not a valid fsimage: %w", w.Digest, err)
	}
	if err := f.Close(); err != nil {
		return ocispec.Descriptor{}, err
	}
	im.o.progress(Progress{Digest: w.Digest, MediaType: w.MediaType, Size: w.Size, Done: w.Size, State: Complete})
	im.st.add(diffID, f.Name())
	return localLayer(w, diffID, n), nil
}

// wireError explains a failed read of the blob w: a digest that differs
// says more than the decompressor's complaint about the bytes it got.
func (im *importer) wireError(w ocispec.Descriptor, r *hashReader, err error) error {
	io.Copy(io.Discard, r)
	if r.n == w.Size {
		if got := r.digest(); got != w.Digest {
			return tampered("blob", w.Digest, got)
		}
	}
	return fmt.Errorf("reading %s: %w", w.Digest, err)
}

// wireCheck checks the size and digest of the blob w once read.
func (im *importer) wireCheck(w ocispec.Descriptor, r *hashReader) error {
	if r.n != w.Size {
		return fmt.Errorf("blob %s: %d bytes, its descriptor says %d", w.Digest, r.n, w.Size)
	}
	if got := r.digest(); got != w.Digest {
		return tampered("blob", w.Digest, got)
	}
	return nil
}

// hashReader hashes and counts what is read through it.
type hashReader struct {
	r      io.Reader
	h      hash.Hash
	n      int64
	report func(n int64)
	last   int64
}

func (r *hashReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if r.report != nil && (r.n-r.last >= 256<<10 || (errors.Is(err, io.EOF) && r.n != r.last)) {
		r.last = r.n
		r.report(r.n)
	}
	return n, err
}

func (r *hashReader) digest() digest.Digest {
	return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(r.h.Sum(nil)))
}

// discardHash is a hash.Hash that computes nothing, for a hashReader that
// only counts.
type discardHash struct{}

func (discardHash) Write(p []byte) (int, error) { return len(p), nil }
func (discardHash) Sum(b []byte) []byte         { return b }
func (discardHash) Reset()                      {}
func (discardHash) Size() int                   { return 0 }
func (discardHash) BlockSize() int              { return 1 }
