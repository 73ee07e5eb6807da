package oci

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzLoad feeds Load archives made from a saved box: it must never panic,
// and an archive it refuses must leave the store as it was.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	src, err := OpenStore(filepath.Join(dir, "src"))
	if err != nil {
		f.Fatal(err)
	}
	box := smallBox(f, src)
	if err := src.Tag("small:v1", box); err != nil {
		f.Fatal(err)
	}
	var arc bytes.Buffer
	if err := Save(context.Background(), src, &arc, "small:v1"); err != nil {
		f.Fatal(err)
	}
	f.Add(arc.Bytes())
	f.Add(gzipped(arc.Bytes()))
	f.Add(arc.Bytes()[:len(arc.Bytes())/2])
	for _, i := range []int{600, 1100, 1700, 2300} {
		if i < arc.Len() {
			b := bytes.Clone(arc.Bytes())
			b[i] ^= 0x40
			f.Add(b)
		}
	}
	// One store for every input: a refused archive leaves it as it was.
	s, err := OpenStore(filepath.Join(dir, "dst"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := snapshot(t, s)
		if _, err := Load(context.Background(), s, bytes.NewReader(data)); err != nil {
			if after := snapshot(t, s); after != before {
				t.Fatalf("a refused archive (%v) changed the store", err)
			}
		}
	})
}

// smallBox commits a one-layer box of a few files.
func smallBox(tb testing.TB, s *Store) ocispec.Descriptor {
	tb.Helper()
	l := fsLayer(tb, s, map[string]string{"etc/hostname": "box\n", "bin/x": "#!/bin/sh\necho x\n"})
	var cfg dockerspec.DockerOCIImage
	cfg.Config.Cmd = []string{"/bin/x"}
	d, err := s.Commit(cfg, []ocispec.Descriptor{l})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestStaleStagesRemoved(t *testing.T) {
	s := newStore(t)
	old, err := s.newStage()
	if err != nil {
		t.Fatal(err)
	}
	// As if its process had been killed: the lock released, the files left.
	old.lock.Close()
	os.WriteFile(filepath.Join(old.dir, "blob-1"), []byte("half a blob"), 0o644)
	live, err := s.newStage()
	if err != nil {
		t.Fatal(err)
	}
	defer live.close()
	if _, err := os.Stat(old.dir); err != nil {
		t.Fatalf("a fresh stage was removed: %v", err)
	}
	past := time.Now().Add(-2 * time.Minute)
	os.Chtimes(filepath.Join(old.dir, ".lock"), past, past)
	os.Chtimes(filepath.Join(live.dir, ".lock"), past, past)
	next, err := s.newStage()
	if err != nil {
		t.Fatal(err)
	}
	defer next.close()
	if _, err := os.Stat(old.dir); !os.IsNotExist(err) {
		t.Errorf("a stale stage is still there: %v", err)
	}
	if _, err := os.Stat(live.dir); err != nil {
		t.Errorf("a stage in use was removed: %v", err)
	}
}
