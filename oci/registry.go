package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Push sends the box src of the store to the registry reference dst
// (docker's defaults: docker.io, tag latest), or to src's own name when dst
// is empty. Layers travel gzip-compressed (oci/SPEC.md). It returns the
// descriptor of the manifest the registry got.
func Push(ctx context.Context, s *Store, src, dst string, opts ...Option) (ocispec.Descriptor, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	img, err := s.Resolve(src)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if dst == "" {
		if img.Ref == "" {
			return ocispec.Descriptor{}, fmt.Errorf("%s is a digest: say where to push it (wasmbox push IMAGE REF)", src)
		}
		dst = img.Ref
	}
	ref, err := o.parseRef(dst)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if _, ok := ref.(name.Tag); !ok {
		return ocispec.Descriptor{}, fmt.Errorf("pushing to %s: push to a tag, not a digest (the digest is the registry's to compute)", dst)
	}
	cb, err := s.ReadBlob(img.Manifest.Config.Digest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "blobs"), ".tmp-push-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.RemoveAll(tmp)
	wl := make([]wireLayer, len(img.Manifest.Layers))
	for i, l := range img.Manifest.Layers {
		if wl[i], err = compressLayer(s, l, tmp); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("pushing %s: %w", dst, err)
		}
	}
	mb, err := toWire(img.Manifest, wl)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	wi := &wireImage{manifest: mb, config: cb, layers: map[digest.Digest]wireLayer{}, o: o}
	for _, l := range wl {
		wi.layers[l.desc.Digest] = l
	}
	gi, err := partial.CompressedToImage(wi)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	ropts := append(o.remoteOptions(), remote.WithContext(ctx))
	if err := remote.Write(ref, gi, ropts...); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing %s: %w", dst, err)
	}
	// What was not read went up before, or was mounted: it existed.
	for _, l := range descs(wl) {
		if !wi.sent(l.Digest) {
			o.progress(Progress{Digest: l.Digest, MediaType: l.MediaType, Size: l.Size, State: Exists})
		}
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mb), Size: int64(len(mb))}, nil
}

func descs(wl []wireLayer) []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, len(wl))
	for i, l := range wl {
		out[i] = l.desc
	}
	return out
}

// wireImage is a box in its wire form, as go-containerregistry's
// partial.CompressedImageCore.
type wireImage struct {
	manifest, config []byte
	layers           map[digest.Digest]wireLayer
	o                *options

	mu   sync.Mutex
	read map[digest.Digest]bool
}

func (wi *wireImage) RawConfigFile() ([]byte, error) { return wi.config, nil }
func (wi *wireImage) RawManifest() ([]byte, error)   { return wi.manifest, nil }
func (wi *wireImage) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}

func (wi *wireImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	l, ok := wi.layers[digest.Digest(h.String())]
	if !ok {
		return nil, fmt.Errorf("no layer %s in the box", h)
	}
	return &wireBlob{wi: wi, l: l}, nil
}

func (wi *wireImage) markRead(d digest.Digest) {
	wi.mu.Lock()
	defer wi.mu.Unlock()
	if wi.read == nil {
		wi.read = map[digest.Digest]bool{}
	}
	wi.read[d] = true
}

func (wi *wireImage) sent(d digest.Digest) bool {
	wi.mu.Lock()
	defer wi.mu.Unlock()
	return wi.read[d]
}

// wireBlob is one compressed layer on its way up.
type wireBlob struct {
	wi *wireImage
	l  wireLayer
}

func (b *wireBlob) Digest() (v1.Hash, error) { return v1.NewHash(b.l.desc.Digest.String()) }
func (b *wireBlob) Size() (int64, error)     { return b.l.desc.Size, nil }
func (b *wireBlob) MediaType() (types.MediaType, error) {
	return types.MediaType(b.l.desc.MediaType), nil
}

func (b *wireBlob) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(b.l.path)
	if err != nil {
		return nil, err
	}
	d := b.l.desc
	b.wi.markRead(d.Digest)
	r := &hashReader{r: f, h: discardHash{}, report: func(n int64) {
		st := Moving
		if n == d.Size {
			st = Complete
		}
		b.wi.o.progress(Progress{Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, Done: n, State: st})
	}}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}

// Pull fetches the box ref (docker's defaults: docker.io, tag latest; or
// name@sha256:...) from its registry into the store, under the name ref.
// Every blob is checked against its digest and every layer opened as an
// fsimage before anything enters the store: a failed pull leaves the store
// as it was. An image that is not a box is a *NotABoxError holding the
// remote image (Fetch converts it instead).
func Pull(ctx context.Context, s *Store, ref string, opts ...Option) (*Image, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	local, err := NormalizeRef(ref)
	if err != nil {
		return nil, err
	}
	desc, err := pullBox(ctx, s, ref, o)
	if err != nil {
		return nil, err
	}
	if err := s.tag(local, desc); err != nil {
		return nil, err
	}
	return s.Resolve(local)
}

// Fetch fetches ref from its registry into the store as a box, unnamed
// (tag it with s.Tag): a box as it is, checked as Pull checks it; a
// container image converted by Import (WithImportOptions), the platform's
// image of an index (WithPlatform). The report is nil for a box. It is
// the one way a reference becomes a box: `wasmbox pull`, `wasmbox run` of
// a box not in the store, and FROM and COPY --from of a build all take it.
func Fetch(ctx context.Context, s *Store, ref string, opts ...Option) (ocispec.Descriptor, *Report, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	desc, err := pullBox(ctx, s, ref, o)
	var nb *NotABoxError
	if !errors.As(err, &nb) {
		return desc, nil, err
	}
	img := nb.Image
	if img == nil && nb.Index != nil {
		if img, err = platformImage(nb.Index, o.platform, ref); err != nil {
			return ocispec.Descriptor{}, nil, err
		}
	}
	if img == nil {
		return ocispec.Descriptor{}, nil, nb
	}
	iopts := append([]ImportOption{WithSourceName(ref)}, o.imports...)
	desc, rep, err := Import(ctx, s, img, iopts...)
	if err != nil {
		return ocispec.Descriptor{}, nil, registryError("pulling "+ref, err)
	}
	return desc, rep, nil
}

// pullBox fetches the box ref into the store, unnamed.
func pullBox(ctx context.Context, s *Store, ref string, o *options) (ocispec.Descriptor, error) {
	r, err := o.parseRef(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc, err := pull(ctx, s, r, o)
	if err != nil {
		return ocispec.Descriptor{}, registryError("pulling "+ref, err)
	}
	return desc, nil
}

func pull(ctx context.Context, s *Store, r name.Reference, o *options) (ocispec.Descriptor, error) {
	p, err := remote.NewPuller(o.remoteOptions()...)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	// The manifest's content is checked against the digest the registry
	// says the tag names (HEAD), or against the digest asked for.
	var said *v1.Descriptor
	if _, ok := r.(name.Tag); ok {
		said, _ = p.Head(ctx, r)
	}
	rd, err := p.Get(ctx, r)
	if err != nil {
		if d, ok := r.(name.Digest); ok {
			return ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w", d.DigestStr(), err)
		}
		return ocispec.Descriptor{}, err
	}
	if said != nil && rd.Digest != said.Digest {
		// Tampered with, unless the tag moved in between: ask again.
		if again, err := p.Head(ctx, r); err == nil && again.Digest == said.Digest {
			return ocispec.Descriptor{}, tampered("manifest", digest.Digest(said.Digest.String()), digest.Digest(rd.Digest.String()))
		}
		return ocispec.Descriptor{}, fmt.Errorf("the tag moved while it was pulled (from %s): try again", said.Digest)
	}
	if rd.MediaType.IsIndex() {
		d, err := pickBox(r.String(), rd.Manifest)
		if err != nil {
			var nb *NotABoxError
			if errors.As(err, &nb) {
				nb.Index, _ = rd.ImageIndex()
			}
			return ocispec.Descriptor{}, err
		}
		if rd, err = p.Get(ctx, r.Context().Digest(d.Digest.String())); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		if rd.Size != d.Size {
			return ocispec.Descriptor{}, fmt.Errorf("manifest %s: %d bytes, the index says %d", d.Digest, rd.Size, d.Size)
		}
	}
	release, err := s.Lease()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer release()
	st, err := s.newStage()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer st.close()
	im := &importer{st: st, src: &remoteFetcher{p: p, repo: r.Context()}, o: o}
	desc, err := im.box(ctx, r.String(), rd.Manifest)
	if err != nil {
		var nb *NotABoxError
		if errors.As(err, &nb) {
			nb.Image, _ = rd.Image()
		}
		return ocispec.Descriptor{}, err
	}
	if err := st.commit(); err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

// remoteFetcher reads blobs of one repository.
type remoteFetcher struct {
	p    *remote.Puller
	repo name.Repository
}

func (f *remoteFetcher) fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	ref := f.repo.Digest(desc.Digest.String())
	l, err := f.p.Layer(ctx, ref)
	if err != nil {
		return nil, err
	}
	return l.Compressed()
}
