package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/boxlayout"
	"github.com/wasmbox/wasmbox/internal/flock"
)

// Image is a box of the store: its manifest and config.
type Image struct {
	// Ref is the name:tag it was found by, empty when found by digest.
	Ref        string
	Descriptor ocispec.Descriptor // of the manifest
	Manifest   ocispec.Manifest
	Config     dockerspec.DockerOCIImage
	store      *Store
}

// LayerPaths returns the files of the image's layers, bottom first.
func (img *Image) LayerPaths() []string {
	paths := make([]string, len(img.Manifest.Layers))
	for i, l := range img.Manifest.Layers {
		paths[i] = img.store.BlobPath(l.Digest)
	}
	return paths
}

// Commit writes the config and the manifest of a box made of layers (blobs
// already in the store) and returns the manifest's descriptor. It does not
// name the box: see Tag.
func (s *Store) Commit(cfg dockerspec.DockerOCIImage, layers []ocispec.Descriptor) (ocispec.Descriptor, error) {
	cfg.OS, cfg.Architecture = OS, Architecture
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = make([]digest.Digest, len(layers))
	for i, l := range layers {
		if !s.HasBlob(l.Digest) {
			return ocispec.Descriptor{}, fmt.Errorf("committing a box: layer %s is not in the store", l.Digest)
		}
		// Layers are stored uncompressed: the diff ID is the digest.
		cfg.RootFS.DiffIDs[i] = l.Digest
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cdesc, err := s.WriteBlob(ocispec.MediaTypeImageConfig, cb)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cdesc,
		Layers:    layers,
	}
	if m.Layers == nil {
		m.Layers = []ocispec.Descriptor{}
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	mdesc, err := s.WriteBlob(ocispec.MediaTypeImageManifest, mb)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	mdesc.Platform = &ocispec.Platform{OS: OS, Architecture: Architecture}
	return mdesc, nil
}

// Resolve finds a box by name[:tag], by manifest digest ("sha256:...") or
// by a unique prefix of at least 4 hex digits of it (the reference rule of
// every reader of a layout: internal/boxlayout.Find).
func (s *Store) Resolve(ref string) (*Image, error) {
	if !boxlayout.IsDigestish(ref) {
		// A name the store could not have written is an error of its own.
		if _, err := NormalizeRef(ref); err != nil {
			return nil, err
		}
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	desc, name, err := boxlayout.Find(idx, ref)
	if err != nil {
		return nil, fmt.Errorf("%w in the store %s", err, s.dir)
	}
	img, err := s.load(desc)
	if err != nil {
		return nil, err
	}
	img.Ref = name
	return img, nil
}

// Load reads the box whose manifest is desc, named or not (a box Import
// or Commit made and nobody tagged yet).
func (s *Store) Load(desc ocispec.Descriptor) (*Image, error) {
	return s.load(desc)
}

// load reads and checks the manifest desc and its config.
func (s *Store) load(desc ocispec.Descriptor) (*Image, error) {
	b, err := boxlayout.Load(s.dir, desc)
	if err != nil {
		return nil, err
	}
	return &Image{Descriptor: b.Descriptor, Manifest: b.Manifest, Config: b.Config, store: s}, nil
}

// Summary is one line of List.
type Summary struct {
	Ref        string
	Descriptor ocispec.Descriptor
	Config     dockerspec.DockerOCIImage
	Size       int64 // manifest + config + layers
}

// List returns the named boxes of the store, sorted by name.
func (s *Store) List() ([]Summary, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, d := range idx.Manifests {
		img, err := s.load(d)
		if err != nil {
			return nil, err
		}
		size := d.Size + img.Manifest.Config.Size
		for _, l := range img.Manifest.Layers {
			size += l.Size
		}
		out = append(out, Summary{Ref: d.Annotations[ocispec.AnnotationRefName], Descriptor: d, Config: img.Config, Size: size})
	}
	return out, nil
}

// Remove untags the box ref and deletes the blobs no other box uses. It
// returns the references removed.
func (s *Store) Remove(ref string) ([]string, error) {
	img, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var removed []string
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		name := d.Annotations[ocispec.AnnotationRefName]
		// By name: only that tag. By digest: every tag of it.
		if (img.Ref != "" && name == img.Ref) || (img.Ref == "" && d.Digest == img.Descriptor.Digest) {
			removed = append(removed, name)
			continue
		}
		kept = append(kept, d)
	}
	idx.Manifests = kept
	if err := s.writeIndex(idx); err != nil {
		return nil, err
	}
	return removed, s.gc(idx)
}

// gc deletes the blobs the index does not reach. Callers hold the lock.
// It does nothing while a lease is held: a build's blobs are not named yet.
func (s *Store) gc(idx ocispec.Index) error {
	err := s.unleased(func() error {
		_, err := s.sweep(idx, true)
		return err
	})
	if errors.Is(err, ErrBuildRunning) {
		return nil
	}
	return err
}

// unleased runs fn while no lease is held (and none can be taken), or
// returns ErrBuildRunning.
func (s *Store) unleased(fn func() error) error {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lease"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("checking the store's leases: %w", err)
	}
	defer f.Close()
	if flock.TryLock(f) != nil {
		return ErrBuildRunning
	}
	defer flock.Unlock(f)
	return fn()
}

// BlobUsage is what the blobs of the store take.
type BlobUsage struct {
	Blobs        int   // blobs in the store
	Size         int64 // their bytes
	Unused       int   // blobs no box of the index references
	UnusedSize   int64 // their bytes
	Boxes        int   // entries of the index
	Inaccessible bool  // a build holds a lease: unused blobs may be its own
}

// sweep measures the blobs of the store against the boxes of idx and,
// with remove, deletes those no box references (the manifest, config
// and layers of each). Callers of remove hold the lock and no lease is
// held.
func (s *Store) sweep(idx ocispec.Index, remove bool) (BlobUsage, error) {
	u := BlobUsage{Boxes: len(idx.Manifests)}
	live := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		live[d.Digest] = true
		img, err := s.load(d)
		if err != nil {
			return u, fmt.Errorf("collecting unused blobs: %w", err)
		}
		live[img.Manifest.Config.Digest] = true
		for _, l := range img.Manifest.Layers {
			live[l.Digest] = true
		}
	}
	dir := filepath.Join(s.dir, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return u, fmt.Errorf("collecting unused blobs: %w", err)
	}
	for _, e := range ents {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		fi, err := e.Info()
		if d.Validate() != nil || err != nil || !fi.Mode().IsRegular() {
			continue
		}
		u.Blobs++
		u.Size += fi.Size()
		if live[d] {
			continue
		}
		u.Unused++
		u.UnusedSize += fi.Size()
		if remove {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return u, fmt.Errorf("removing unused blob %s: %w", d, err)
			}
		}
	}
	return u, nil
}

// Lease keeps unnamed blobs (a build in progress) from being collected
// until release is called.
func (s *Store) Lease() (release func(), err error) {
	return s.hold(".lease", flock.RLock, "taking a store lease")
}

// hold opens the store's lock file name and takes it with take, until the
// returned func is called.
func (s *Store) hold(name string, take func(*os.File) error, what string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := take(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return func() {
		flock.Unlock(f)
		f.Close()
	}, nil
}

// Open opens the image's layers as one read-only tree (nothing is
// extracted). Close the closer when the tree is no longer used.
func (img *Image) Open() (fsimage.Tree, io.Closer, error) {
	b := boxlayout.Box{Descriptor: img.Descriptor, Manifest: img.Manifest}
	return b.Open(img.store.dir)
}

// OpenLayer opens the layer desc of the store as an fsimage, checking its
// size. Close the closer when the tree is no longer used.
func (s *Store) OpenLayer(desc ocispec.Descriptor) (fsimage.Tree, io.Closer, error) {
	return boxlayout.OpenLayer(s.dir, desc)
}
