package oci

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The wire form of a box (oci/SPEC.md): what registries get. The local
// store keeps layers uncompressed, to open them in place; a registry gets
// them gzip-compressed, with their uncompressed size in an annotation.
const (
	// MediaTypeFSImageGzip is an fsimage layer compressed with gzip.
	MediaTypeFSImageGzip = MediaTypeFSImage + "+gzip"
	// AnnotationFSImageSize, on a compressed layer's descriptor, is the
	// size in bytes of the uncompressed fsimage (decimal).
	AnnotationFSImageSize = "com.github.wasmbox.fsimage.size"
)

// maxJSONBlob bounds the manifests, indexes and configs read from outside
// (the distribution spec's 4 MiB for manifests).
const maxJSONBlob = 4 << 20

// wireLayer is a layer compressed for a registry, in a temporary file.
type wireLayer struct {
	desc ocispec.Descriptor
	path string
}

// compressLayer gzips the store's layer l into a new file of dir and
// returns its wire descriptor. The store's blob is checked on the way.
func compressLayer(s *Store, l ocispec.Descriptor, dir string) (wireLayer, error) {
	in, err := os.Open(s.BlobPath(l.Digest))
	if err != nil {
		return wireLayer{}, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, "layer-*.gz")
	if err != nil {
		return wireLayer{}, err
	}
	defer out.Close()
	zh, h := sha256.New(), sha256.New()
	cw := &countWriter{w: io.MultiWriter(out, zh)}
	zw, err := gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	if err != nil {
		return wireLayer{}, err
	}
	n, err := io.Copy(io.MultiWriter(zw, h), in)
	if err != nil {
		return wireLayer{}, fmt.Errorf("compressing layer %s: %w", l.Digest, err)
	}
	if err := zw.Close(); err != nil {
		return wireLayer{}, fmt.Errorf("compressing layer %s: %w", l.Digest, err)
	}
	if err := out.Close(); err != nil {
		return wireLayer{}, fmt.Errorf("compressing layer %s: %w", l.Digest, err)
	}
	if got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))); got != l.Digest || n != l.Size {
		return wireLayer{}, fmt.Errorf("layer %s in the store is corrupt: its content has digest %s (%d bytes, want %d)", l.Digest, got, n, l.Size)
	}
	d := l
	d.MediaType = MediaTypeFSImageGzip
	d.Digest = digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(zh.Sum(nil)))
	d.Size = cw.n
	d.Annotations = maps.Clone(l.Annotations)
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[AnnotationFSImageSize] = strconv.FormatInt(n, 10)
	return wireLayer{desc: d, path: out.Name()}, nil
}

// toWire is the manifest a registry gets for the local manifest m whose
// layers travel as layers.
func toWire(m ocispec.Manifest, layers []wireLayer) ([]byte, error) {
	m.Layers = make([]ocispec.Descriptor, len(layers))
	for i, l := range layers {
		m.Layers[i] = l.desc
	}
	return json.Marshal(m)
}

// localLayer is the store's descriptor of the wire layer w once
// uncompressed into the blob diffID of size bytes: the inverse of
// compressLayer, so that a pushed box pulls back to the same manifest
// digest.
func localLayer(w ocispec.Descriptor, diffID digest.Digest, size int64) ocispec.Descriptor {
	d := w
	d.MediaType = MediaTypeFSImage
	d.Digest = diffID
	d.Size = size
	d.Annotations = maps.Clone(w.Annotations)
	delete(d.Annotations, AnnotationFSImageSize)
	if len(d.Annotations) == 0 {
		d.Annotations = nil
	}
	return d
}

// uncompressedSize reads AnnotationFSImageSize of a compressed layer.
func uncompressedSize(l ocispec.Descriptor) (int64, error) {
	v, ok := l.Annotations[AnnotationFSImageSize]
	if !ok {
		return 0, fmt.Errorf("no %s annotation (the uncompressed size)", AnnotationFSImageSize)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != v {
		return 0, fmt.Errorf("annotation %s=%q is not a size in bytes", AnnotationFSImageSize, v)
	}
	return n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
