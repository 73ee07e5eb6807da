package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/shims"
)

// ImportOption configures Import.
type ImportOption func(*importOptions) error

type importOptions struct {
	shimsDir   string
	keepNative bool
	source     string
	noCache    bool
}

// WithShimsDir takes the Wasm stand-ins from dir. Default: shims.Dir().
func WithShimsDir(dir string) ImportOption {
	return func(o *importOptions) error { o.shimsDir = dir; return nil }
}

// WithKeepNative keeps native ELF files (programs, shared libraries) as
// inert files instead of pruning them. Default: pruned.
func WithKeepNative(keep bool) ImportOption {
	return func(o *importOptions) error { o.keepNative = keep; return nil }
}

// WithSourceName is how the image is named in the box's history and the
// report ("alpine:3.20", "oci-layout:///dir:tag"). Default: its digest.
func WithSourceName(name string) ImportOption {
	return func(o *importOptions) error { o.source = name; return nil }
}

// WithoutImportCache imports again even when the store has done it for
// the same image and stand-ins. Default: an earlier import is reused.
func WithoutImportCache() ImportOption {
	return func(o *importOptions) error { o.noCache = true; return nil }
}

// ErrNotFileSystem reports an image whose layers are not file system
// layers (an artifact, a Windows image...).
var ErrNotFileSystem = errors.New("not a file system image")

// importVersion changes when the same image would import differently.
const importVersion = "wasmbox-import-1"

// Import makes a box of the foreign image img: its layers flattened into
// one layer (Docker's whiteout rules, hostile entries dropped), the native
// programs replaced by the Wasm stand-ins of the shims catalog laid as
// layers of their own, the rest of the native files pruned, and its
// config kept (Env, Cmd, Entrypoint, WorkingDir, User, Labels, ports...)
// for os wasip1, architecture wasm. The box is committed to s, unnamed:
// tag it with s.Tag. A box (os wasip1) is copied as it is.
//
// The same image with the same stand-ins is imported once: the store
// remembers the result by the image's config digest. Nothing is written
// to s before the image has been read through, and nothing anywhere else
// but the unlinked spool file in the store's directory.
func Import(ctx context.Context, s *Store, img v1.Image, opts ...ImportOption) (ocispec.Descriptor, *Report, error) {
	var o importOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return ocispec.Descriptor{}, nil, err
		}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("reading the image config: %w", err)
	}
	if o.source == "" {
		o.source = cfgName.String()
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("%s: reading the image config: %w", o.source, err)
	}
	rep := &Report{Source: o.source, Digest: cfgName.String()}
	release, err := s.Lease()
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	defer release()
	if cf.OS == OS && cf.Architecture == Architecture {
		desc, err := copyBox(s, img)
		if err != nil {
			return ocispec.Descriptor{}, nil, fmt.Errorf("%s: %w", o.source, err)
		}
		return desc, rep, nil
	}
	if o.shimsDir == "" {
		if o.shimsDir, err = shims.Dir(); err != nil {
			return ocispec.Descriptor{}, nil, err
		}
	}
	var stamps []string
	for _, b := range []shims.Base{shims.Shell, shims.Python} {
		st, err := shims.Stamp(b, o.shimsDir)
		if err != nil {
			st = "missing" // not needed unless the image has it
		}
		stamps = append(stamps, st)
	}
	key := hashKey(append([]string{importVersion, cfgName.String(), fmt.Sprint(o.keepNative)}, stamps...)...)
	if !o.noCache {
		if desc, cached, ok := s.importCacheGet(key); ok {
			cached.Source, cached.Cached = o.source, true
			return desc, cached, nil
		}
	}

	layers, err := img.Layers()
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("%s: listing the layers: %w", o.source, err)
	}
	t, err := newFlatTree(filepath.Join(s.dir, "blobs"))
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	defer t.Close()
	for i, l := range layers {
		if err := readLayer(ctx, t, i, l); err != nil {
			return ocispec.Descriptor{}, nil, fmt.Errorf("%s: %w", o.source, err)
		}
	}
	rep.Dropped = t.dropped
	standIns, err := t.wasmify(o.shimsDir, o.keepNative, rep)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("%s: %w", o.source, err)
	}

	// Everything is read: now the store is written.
	var descs []ocispec.Descriptor
	pr, pw := io.Pipe()
	go func() {
		_, err := t.writeTo(pw)
		pw.CloseWithError(err)
	}()
	desc, err := s.PutBlob(MediaTypeFSImage, pr)
	pr.Close()
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("%s: writing the flattened layer: %w", o.source, err)
	}
	descs = append(descs, desc)
	created := epoch
	if !cf.Created.IsZero() {
		created = cf.Created.UTC()
	}
	history := []ocispec.History{{
		Created:   &created,
		CreatedBy: fmt.Sprintf("wasmbox import %s (%s): %s", o.source, cfgName, rep.Summary()),
	}}
	for _, si := range standIns {
		desc, err := s.standInLayer(si, o.shimsDir)
		if err != nil {
			return ocispec.Descriptor{}, nil, fmt.Errorf("%s: %w", o.source, err)
		}
		descs = append(descs, desc)
		history = append(history, ocispec.History{Created: &created, CreatedBy: fmt.Sprintf("wasmbox %s stand-ins for %s", si.base, o.source)})
	}
	cfg := boxConfig(cf)
	cfg.Created = &created
	cfg.History = history
	mdesc, err := s.Commit(cfg, descs)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	if err := s.importCachePut(key, mdesc, rep); err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	return mdesc, rep, nil
}

// readLayer flattens layer i of an image into t.
func readLayer(ctx context.Context, t *flatTree, i int, l v1.Layer) error {
	mt, err := l.MediaType()
	if err != nil {
		return fmt.Errorf("layer %d: %w", i+1, err)
	}
	switch mt {
	case types.DockerLayer, types.DockerUncompressedLayer, types.OCILayer, types.OCIUncompressedLayer, types.OCILayerZStd:
	case types.DockerForeignLayer, types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer:
		return fmt.Errorf("layer %d: %w: media type %s is a non-distributable (Windows) layer", i+1, ErrNotFileSystem, mt)
	default:
		if !strings.Contains(string(mt), "tar") {
			return fmt.Errorf("layer %d: %w: media type %q is not a tar layer", i+1, ErrNotFileSystem, mt)
		}
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("layer %d: %w", i+1, err)
	}
	defer rc.Close()
	if err := t.addLayer(ctx, i, rc); err != nil {
		return err
	}
	// The tar may end before its stream: read the rest, so that the
	// digest check of the layer runs.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("layer %d: %w", i+1, err)
	}
	return nil
}

// boxConfig keeps what of a foreign image's config still means something
// in a box.
func boxConfig(cf *v1.ConfigFile) dockerspec.DockerOCIImage {
	var out dockerspec.DockerOCIImage
	out.Author = cf.Author
	c := cf.Config
	out.Config.Env = append([]string(nil), c.Env...)
	out.Config.Cmd = append([]string(nil), c.Cmd...)
	out.Config.Entrypoint = append([]string(nil), c.Entrypoint...)
	out.Config.WorkingDir = c.WorkingDir
	out.Config.User = c.User
	out.Config.StopSignal = c.StopSignal
	out.Config.Shell = append([]string(nil), c.Shell...)
	out.Config.OnBuild = append([]string(nil), c.OnBuild...)
	out.Config.ArgsEscaped = c.ArgsEscaped
	if len(c.Labels) > 0 {
		out.Config.Labels = map[string]string{}
		for k, v := range c.Labels {
			out.Config.Labels[k] = v
		}
	}
	if len(c.ExposedPorts) > 0 {
		out.Config.ExposedPorts = map[string]struct{}{}
		for k := range c.ExposedPorts {
			out.Config.ExposedPorts[k] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		out.Config.Volumes = map[string]struct{}{}
		for k := range c.Volumes {
			out.Config.Volumes[k] = struct{}{}
		}
	}
	if h := c.Healthcheck; h != nil {
		out.Config.Healthcheck = &dockerspec.HealthcheckConfig{
			Test: append([]string(nil), h.Test...), Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries,
		}
	}
	return out
}

// copyBox stores a box found outside the store as it is.
func copyBox(s *Store, img v1.Image) (ocispec.Descriptor, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("box config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var descs []ocispec.Descriptor
	for i, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		if string(mt) != MediaTypeFSImage {
			return ocispec.Descriptor{}, fmt.Errorf("box layer %d: media type %q, want %q", i+1, mt, MediaTypeFSImage)
		}
		want, err := l.Digest()
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		desc, err := s.PutBlob(MediaTypeFSImage, rc)
		rc.Close()
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		if desc.Digest.String() != want.String() {
			return ocispec.Descriptor{}, fmt.Errorf("box layer %d: content has digest %s, the manifest says %s", i+1, desc.Digest, want)
		}
		descs = append(descs, desc)
	}
	return s.Commit(cfg, descs)
}

// standInLayer puts the layer of a stand-in into the store, once per
// stand-ins build and place.
func (s *Store) standInLayer(si standIn, dir string) (ocispec.Descriptor, error) {
	stamp, err := shims.Stamp(si.base, dir)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	key := hashKey("stand-in-layer", stamp, si.binDir)
	if desc, _, ok := s.CacheGet(key); ok && desc != nil {
		return *desc, nil
	}
	var buf bytes.Buffer
	if si.base == shims.Shell {
		err = shims.WriteShellModule(&buf, dir, si.binDir)
	} else {
		_, err = shims.WriteBase(&buf, si.base, dir)
	}
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc, err := s.WriteBlob(MediaTypeFSImage, buf.Bytes())
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, s.CachePut(key, &desc, time.Time{})
}

func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// importEntry is what the store remembers of an import.
type importEntry struct {
	Manifest ocispec.Descriptor `json:"manifest"`
	Report   *Report            `json:"report"`
}

func (s *Store) importCachePath(key string) string {
	return filepath.Join(s.dir, "cache", "import", key)
}

func (s *Store) importCacheGet(key string) (ocispec.Descriptor, *Report, bool) {
	b, err := os.ReadFile(s.importCachePath(key))
	if err != nil {
		return ocispec.Descriptor{}, nil, false
	}
	var e importEntry
	if json.Unmarshal(b, &e) != nil || e.Report == nil || e.Manifest.Digest.Validate() != nil || e.Manifest.Digest.Algorithm() != digest.SHA256 {
		return ocispec.Descriptor{}, nil, false
	}
	// The blobs may have been collected since (rm): then import again.
	if _, err := s.load(e.Manifest); err != nil {
		return ocispec.Descriptor{}, nil, false
	}
	return e.Manifest, e.Report, true
}

func (s *Store) importCachePut(key string, desc ocispec.Descriptor, rep *Report) error {
	p := s.importCachePath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("import cache: %w", err)
	}
	b, err := json.Marshal(importEntry{Manifest: desc, Report: rep})
	if err != nil {
		return err
	}
	return writeFileAtomic(p, b)
}
