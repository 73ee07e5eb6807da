// Package boxlayout is the one reader of boxes in an OCI image layout
// (oci/SPEC.md): the reference rule that finds a box in the layout's
// index, digest-checked manifests and configs, and the layers opened as
// one read-only fsimage tree. The store (oci), the runner (runtime) and
// the builder (convert, through oci) all read a layout through it, so they
// agree on what a reference names and on what a valid box is.
//
// It reads; it never writes a layout (oci.Store does).
package boxlayout

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
)

// MediaTypeFSImage is the media type of a layer holding an uncompressed
// fsimage (see fsimage/FORMAT.md).
const MediaTypeFSImage = "application/vnd.wasmbox.fsimage.v1"

// Platform of every box.
const (
	OS           = "wasip1"
	Architecture = "wasm"
)

// MaxMetadata bounds the manifests and configs read; maxIndex the index.
const (
	MaxMetadata = 4 << 20
	maxIndex    = 64 << 20
)

// ErrNotFound reports a reference that names no box of the layout.
var ErrNotFound = errors.New("no such box")

// Box is a box found in a layout: its manifest and config, checked.
type Box struct {
	// Ref is the name:tag it was found by, empty when found by digest.
	Ref        string
	Descriptor ocispec.Descriptor // of the manifest
	Manifest   ocispec.Manifest
	Config     dockerspec.DockerOCIImage
}

// ReadIndex reads the layout's index.json; a layout without one has an
// empty index.
func ReadIndex(dir string) (ocispec.Index, error) {
	var idx ocispec.Index
	p := filepath.Join(dir, ocispec.ImageIndexFile)
	b, err := readLimited(p, maxIndex)
	if errors.Is(err, os.ErrNotExist) {
		idx.SchemaVersion = 2
		idx.MediaType = ocispec.MediaTypeImageIndex
		return idx, nil
	}
	if err != nil {
		return idx, fmt.Errorf("reading the index of the image layout %s: %w", dir, err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("the index %s is corrupt: %w", p, err)
	}
	return idx, nil
}

// NormalizeName is the reference rule's name part: "hello" stands for
// "hello:latest"; a name with a tag or a digest ("name@sha256:...") is
// taken as it is. It does not check the registry grammar (oci does, for
// the names it writes).
func NormalizeName(ref string) string {
	if strings.Contains(ref, "@") {
		return ref
	}
	if colon := strings.LastIndex(ref, ":"); colon <= strings.LastIndex(ref, "/") {
		return ref + ":latest"
	}
	return ref
}

// IsDigestish reports whether ref may stand for a manifest digest: a full
// "sha256:..." or at least 4 hex digits of one, with or without the
// "sha256:".
func IsDigestish(ref string) bool {
	h := strings.TrimPrefix(ref, "sha256:")
	if len(h) < 4 || len(h) > 64 {
		return false
	}
	for _, c := range h {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// Find is the reference rule: ref names the manifest of the index whose
// digest it is or starts with (at least 4 hex digits, "sha256:"
// optional), else the one whose org.opencontainers.image.ref.name is
// NormalizeName(ref). It returns the descriptor and the name it was found
// by (empty when by digest).
func Find(idx ocispec.Index, ref string) (ocispec.Descriptor, string, error) {
	if IsDigestish(ref) {
		want := strings.TrimPrefix(ref, "sha256:")
		var found *ocispec.Descriptor
		for i, d := range idx.Manifests {
			if strings.HasPrefix(d.Digest.Encoded(), want) {
				if found != nil && found.Digest != d.Digest {
					return ocispec.Descriptor{}, "", fmt.Errorf("%s: ambiguous: several boxes have digests starting so", ref)
				}
				found = &idx.Manifests[i]
			}
		}
		if found != nil {
			return *found, "", nil
		}
	}
	name := NormalizeName(ref)
	for _, d := range idx.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] == name {
			return d, name, nil
		}
	}
	return ocispec.Descriptor{}, "", fmt.Errorf("%s: %w", ref, ErrNotFound)
}

// Resolve finds ref in the layout dir (Find) and loads the box (Load).
func Resolve(dir, ref string) (*Box, error) {
	idx, err := ReadIndex(dir)
	if err != nil {
		return nil, err
	}
	desc, name, err := Find(idx, ref)
	if err != nil {
		return nil, fmt.Errorf("%w in the image layout %s", err, dir)
	}
	b, err := Load(dir, desc)
	if err != nil {
		return nil, err
	}
	b.Ref = name
	return b, nil
}

// BlobPath is where the blob d lives in the layout dir.
func BlobPath(dir string, d digest.Digest) string {
	return filepath.Join(dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

// ReadBlob returns the blob d of the layout, at most max bytes, checking
// its digest.
func ReadBlob(dir string, d digest.Digest, max int64) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("blob digest %q: %w", d, err)
	}
	f, err := os.Open(BlobPath(dir, d))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("blob %s: larger than %d bytes", d, max)
	}
	if got := digest.FromBytes(b); got != d {
		return nil, fmt.Errorf("blob %s is corrupt: its content has digest %s", d, got)
	}
	return b, nil
}

// Load reads and checks the manifest desc and its config: an OCI image
// manifest of fsimage layers, all present, whose config is a box's
// (wasip1/wasm).
func Load(dir string, desc ocispec.Descriptor) (*Box, error) {
	mb, err := ReadBlob(dir, desc.Digest, MaxMetadata)
	if err != nil {
		return nil, err
	}
	b := &Box{Descriptor: desc}
	if err := json.Unmarshal(mb, &b.Manifest); err != nil {
		return nil, fmt.Errorf("manifest %s: malformed JSON: %w", desc.Digest, err)
	}
	if err := CheckManifest(&b.Manifest); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	cb, err := ReadBlob(dir, b.Manifest.Config.Digest, MaxMetadata)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(cb, &b.Config); err != nil {
		return nil, fmt.Errorf("config %s: malformed JSON: %w", b.Manifest.Config.Digest, err)
	}
	if b.Config.OS != OS || b.Config.Architecture != Architecture {
		return nil, fmt.Errorf("config %s: platform %s/%s is not a box (%s/%s)", b.Manifest.Config.Digest, b.Config.OS, b.Config.Architecture, OS, Architecture)
	}
	for _, l := range b.Manifest.Layers {
		if _, err := os.Stat(BlobPath(dir, l.Digest)); err != nil {
			return nil, fmt.Errorf("manifest %s: layer %s is missing from the image layout", desc.Digest, l.Digest)
		}
	}
	return b, nil
}

// CheckManifest checks that m is the manifest of a box: an OCI image
// manifest with an image config and fsimage layers.
func CheckManifest(m *ocispec.Manifest) error {
	if m.SchemaVersion != 2 {
		return fmt.Errorf("schemaVersion %d, want 2", m.SchemaVersion)
	}
	if m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest {
		return fmt.Errorf("media type %q is not an OCI image manifest", m.MediaType)
	}
	if m.Config.MediaType != ocispec.MediaTypeImageConfig {
		return fmt.Errorf("config media type %q, want %q", m.Config.MediaType, ocispec.MediaTypeImageConfig)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return fmt.Errorf("config digest %q: %w", m.Config.Digest, err)
	}
	for i, l := range m.Layers {
		if l.MediaType != MediaTypeFSImage {
			return fmt.Errorf("layer %d: media type %q is not %q", i, l.MediaType, MediaTypeFSImage)
		}
		if err := l.Digest.Validate(); err != nil {
			return fmt.Errorf("layer %d: digest %q: %w", i, l.Digest, err)
		}
	}
	return nil
}

// OpenLayer opens the layer desc of the layout as an fsimage, checking its
// size against the descriptor's. Close the closer when the tree is no
// longer used.
func OpenLayer(dir string, desc ocispec.Descriptor) (fsimage.Tree, io.Closer, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, nil, fmt.Errorf("layer digest %q: %w", desc.Digest, err)
	}
	f, err := os.Open(BlobPath(dir, desc.Digest))
	if err != nil {
		return nil, nil, fmt.Errorf("opening layer %s: %w", desc.Digest, err)
	}
	st, err := f.Stat()
	if err != nil || st.Size() != desc.Size {
		f.Close()
		return nil, nil, fmt.Errorf("layer %s: size differs from the manifest's %d", desc.Digest, desc.Size)
	}
	t, err := fsimage.Open(f, desc.Size)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	return t, f, nil
}

// Open opens the box's layers, bottom first, as one read-only tree
// (nothing is extracted). Close the closer when the tree is no longer
// used.
func (b *Box) Open(dir string) (fsimage.Tree, io.Closer, error) {
	var cs Closers
	trees := make([]fsimage.Tree, 0, len(b.Manifest.Layers))
	for i, l := range b.Manifest.Layers {
		t, c, err := OpenLayer(dir, l)
		if err != nil {
			cs.Close()
			return nil, nil, fmt.Errorf("layer %d: %w", i, err)
		}
		cs = append(cs, c)
		trees = append(trees, t)
	}
	return fsimage.Stack(trees...), cs, nil
}

// Closers closes each of its closers, returning every error.
type Closers []io.Closer

func (cs Closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func readLimited(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, max)
	}
	return data, nil
}
