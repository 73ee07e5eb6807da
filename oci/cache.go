package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// cacheEntry is what the build cache keeps for one step: the layer it
// made, or nothing when it changed no file.
type cacheEntry struct {
	Layer   *ocispec.Descriptor `json:"layer,omitempty"`
	Created time.Time           `json:"created"`
}

func (s *Store) cachePath(key string) (string, error) {
	if len(key) != 64 {
		return "", fmt.Errorf("build cache key %q: want 64 hex digits", key)
	}
	for _, c := range key {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("build cache key %q: want 64 hex digits", key)
		}
	}
	return filepath.Join(s.dir, "cache", key[:2], key), nil
}

// CacheGet returns the result of the build step key and when it was
// made: ok is false on a miss (or when the layer it names is gone from the
// store); layer is nil for a step that made no layer.
func (s *Store) CacheGet(key string) (layer *ocispec.Descriptor, created time.Time, ok bool) {
	p, err := s.cachePath(key)
	if err != nil {
		return nil, time.Time{}, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, time.Time{}, false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil {
		return nil, time.Time{}, false
	}
	if e.Layer != nil && (e.Layer.MediaType != MediaTypeFSImage || e.Layer.Digest.Validate() != nil || !s.HasBlob(e.Layer.Digest)) {
		return nil, time.Time{}, false
	}
	return e.Layer, e.Created, true
}

// CachePut records the result of the build step key, made at created.
func (s *Store) CachePut(key string, layer *ocispec.Descriptor, created time.Time) error {
	p, err := s.cachePath(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	b, err := json.Marshal(cacheEntry{Layer: layer, Created: created.UTC()})
	if err != nil {
		return err
	}
	return writeFileAtomic(p, b)
}
