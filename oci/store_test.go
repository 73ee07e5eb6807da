package oci

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newBox(t *testing.T, s *Store, layer string) ocispec.Descriptor {
	t.Helper()
	l, err := s.WriteBlob(MediaTypeFSImage, []byte(layer))
	if err != nil {
		t.Fatal(err)
	}
	var cfg dockerspec.DockerOCIImage
	cfg.Config.Env = []string{"A=" + layer}
	d, err := s.Commit(cfg, []ocispec.Descriptor{l})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestStoreTagResolveRemove(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := newBox(t, s, "layer-a")
	b := newBox(t, s, "layer-b")
	for _, tag := range []string{"app", "app:v2"} {
		if err := s.Tag(tag, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Tag("other", b); err != nil {
		t.Fatal(err)
	}
	img, err := s.Resolve("app:latest")
	if err != nil {
		t.Fatal(err)
	}
	if img.Descriptor.Digest != a.Digest || img.Config.OS != OS || img.Config.Architecture != Architecture || img.Config.Config.Env[0] != "A=layer-a" {
		t.Errorf("resolved %+v", img)
	}
	if img, err := s.Resolve(a.Digest.Encoded()[:8]); err != nil || img.Descriptor.Digest != a.Digest {
		t.Errorf("by digest prefix: %v", err)
	}
	list, err := s.List()
	if err != nil || len(list) != 3 {
		t.Fatalf("List: %d, %v", len(list), err)
	}
	// Untagging one name keeps the blobs the other name uses.
	if _, err := s.Remove("app"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("app:v2"); err != nil {
		t.Errorf("app:v2 after rm app: %v", err)
	}
	if _, err := s.Remove("app:v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("app:v2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after rm: %v, want ErrNotFound", err)
	}
	if s.HasBlob(a.Digest) {
		t.Error("the removed box's manifest is still stored")
	}
	if !s.HasBlob(b.Digest) {
		t.Error("rm collected a blob another box uses")
	}
}

func TestStoreRejectsCorruption(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := newBox(t, s, "layer")
	if err := s.Tag("box", d); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.BlobPath(d.Digest), []byte(`{"schemaVersion":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("box"); err == nil {
		t.Error("a manifest whose digest does not match resolved")
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "index.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("box"); err == nil {
		t.Error("a corrupt index resolved")
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"app": "app:latest", "app:v1": "app:v1", "localhost:5000/app": "localhost:5000/app:latest",
		"localhost:5000/app:v1": "localhost:5000/app:v1",
	} {
		if got, err := NormalizeRef(in); err != nil || got != want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "app:", "a b", "app@sha256:00", "App", "app:bad/tag"} {
		if _, err := NormalizeRef(bad); err == nil {
			t.Errorf("NormalizeRef(%q) accepted", bad)
		}
	}
}
