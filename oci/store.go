package oci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	gcrname "github.com/google/go-containerregistry/pkg/name"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/internal/boxlayout"
	"github.com/wasmbox/wasmbox/internal/flock"
)

// MediaTypeFSImage is the media type of a layer holding an uncompressed
// fsimage (see fsimage/FORMAT.md).
const MediaTypeFSImage = boxlayout.MediaTypeFSImage

// Platform of every box.
const (
	OS           = boxlayout.OS
	Architecture = boxlayout.Architecture
)

// Store is the local store: an OCI image layout in a directory, whose
// index names each box with the annotation org.opencontainers.image.ref.name
// ("name:tag"). Blobs are written to a temporary file and renamed into
// place, so a failed write leaves no partial blob; index updates hold a
// lock file, so several wasmbox processes can share one store.
type Store struct {
	dir string
}

// ErrNotFound reports a reference that names no box of the store.
var ErrNotFound = boxlayout.ErrNotFound

// OpenStore opens (creating if needed) the store in dir.
func OpenStore(dir string) (*Store, error) {
	s := &Store{dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("creating the store %s: %w", dir, err)
	}
	layoutFile := filepath.Join(dir, ocispec.ImageLayoutFile)
	if _, err := os.Stat(layoutFile); errors.Is(err, os.ErrNotExist) {
		b, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
		if err := writeFileAtomic(layoutFile, b); err != nil {
			return nil, fmt.Errorf("creating the store %s: %w", dir, err)
		}
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// BlobPath is where the blob d lives.
func (s *Store) BlobPath(d digest.Digest) string {
	return boxlayout.BlobPath(s.dir, d)
}

// HasBlob reports whether the blob d is in the store.
func (s *Store) HasBlob(d digest.Digest) bool {
	_, err := os.Stat(s.BlobPath(d))
	return err == nil
}

// WriteBlob stores data and returns its descriptor.
func (s *Store) WriteBlob(mediaType string, data []byte) (ocispec.Descriptor, error) {
	return s.PutBlob(mediaType, bytes.NewReader(data))
}

// PutBlob stores what r yields and returns its descriptor.
func (s *Store) PutBlob(mediaType string, r io.Reader) (ocispec.Descriptor, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "blobs"), ".tmp-blob-*")
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("writing a blob: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("writing a blob: %w", err)
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
	if !s.HasBlob(d) {
		if err := os.Rename(tmp.Name(), s.BlobPath(d)); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("writing blob %s: %w", d, err)
		}
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: n}, nil
}

// ReadBlob returns the blob d, checking its digest.
// It reads manifests and configs, so at most boxlayout.MaxMetadata bytes.
func (s *Store) ReadBlob(d digest.Digest) ([]byte, error) {
	return boxlayout.ReadBlob(s.dir, d, boxlayout.MaxMetadata)
}

// NormalizeRef turns a short name into the name:tag the index records:
// "hello" is "hello:latest".
func NormalizeRef(ref string) (string, error) {
	if ref == "" {
		return "", errors.New("empty image reference")
	}
	if strings.ContainsAny(ref, " \t\n") {
		return "", fmt.Errorf("invalid image reference %q: contains white space", ref)
	}
	if strings.Contains(ref, "@") {
		// name@sha256:...: a box pulled by digest is known by it.
		if _, err := gcrname.NewDigest(ref, gcrname.WeakValidation); err != nil {
			return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
		}
		return ref, nil
	}
	name := boxlayout.NormalizeName(ref)
	// The registry grammar (lower-case repository, tag characters...),
	// so that a name stored here can also be pushed.
	if _, err := gcrname.NewTag(name, gcrname.WeakValidation); err != nil {
		return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	return name, nil
}

func (s *Store) readIndex() (ocispec.Index, error) {
	return boxlayout.ReadIndex(s.dir)
}

func (s *Store) writeIndex(idx ocispec.Index) error {
	idx.Versioned = specs.Versioned{SchemaVersion: 2}
	idx.MediaType = ocispec.MediaTypeImageIndex
	sort.SliceStable(idx.Manifests, func(i, j int) bool {
		return idx.Manifests[i].Annotations[ocispec.AnnotationRefName] < idx.Manifests[j].Annotations[ocispec.AnnotationRefName]
	})
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, ocispec.ImageIndexFile), b)
}

// lock takes the store's lock until the returned func is called.
func (s *Store) lock() (func(), error) {
	return s.hold(".lock", flock.Lock, "locking the store")
}

// Tag points name (name[:tag]) at the manifest desc.
func (s *Store) Tag(name string, desc ocispec.Descriptor) error {
	if strings.Contains(name, "@") {
		return fmt.Errorf("invalid tag %q: a name with a digest names what a registry holds, not a tag", name)
	}
	return s.tag(name, desc)
}

// Remember names the box a pull fetched by the reference it was pulled
// by: name[:tag], or name@digest (listed with no tag, as docker does).
func (s *Store) Remember(ref string, desc ocispec.Descriptor) error {
	return s.tag(ref, desc)
}

// tag is Tag, also for the name@digest of a box pulled by digest.
func (s *Store) tag(name string, desc ocispec.Descriptor) error {
	ref, err := NormalizeRef(name)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d ocispec.Descriptor) bool {
		return d.Annotations[ocispec.AnnotationRefName] == ref
	})
	desc.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	idx.Manifests = append(idx.Manifests, desc)
	return s.writeIndex(idx)
}

// addUnnamed records the manifest desc in the index without a name (a box
// loaded from an archive that named it not), unless the index has it.
func (s *Store) addUnnamed(desc ocispec.Descriptor) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	for _, d := range idx.Manifests {
		if d.Digest == desc.Digest {
			return nil
		}
	}
	desc.Annotations = nil
	idx.Manifests = append(idx.Manifests, desc)
	return s.writeIndex(idx)
}

func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
