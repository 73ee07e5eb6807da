package boxlayout

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
)

// writeBlob puts data into the layout dir.
func writeBlob(t *testing.T, dir, mediaType string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := digest.FromBytes(data)
	p := BlobPath(dir, d)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func writeJSON(t *testing.T, dir, mediaType string, v any) ocispec.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return writeBlob(t, dir, mediaType, b)
}

// testLayout writes a layout whose index names one box "app:latest"
// (holding /hello) under each of names, and returns the manifest.
func testLayout(t *testing.T, names ...string) (string, ocispec.Descriptor) {
	t.Helper()
	dir := t.TempDir()
	w := fsimage.NewWriter()
	if err := w.AddBytes(fsimage.Entry{Path: "hello", Type: fsimage.TypeReg, Mode: 0o644, ModTime: time.Unix(1, 0), Size: 3}, []byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	layer := writeBlob(t, dir, MediaTypeFSImage, buf.Bytes())
	var cfg dockerspec.DockerOCIImage
	cfg.OS, cfg.Architecture = OS, Architecture
	cfg.Config.Cmd = []string{"cat", "/hello"}
	cdesc := writeJSON(t, dir, ocispec.MediaTypeImageConfig, cfg)
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cdesc, Layers: []ocispec.Descriptor{layer}}
	mdesc := writeJSON(t, dir, ocispec.MediaTypeImageManifest, m)
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}}
	for _, n := range names {
		d := mdesc
		d.Annotations = map[string]string{ocispec.AnnotationRefName: n}
		idx.Manifests = append(idx.Manifests, d)
	}
	b, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, ocispec.ImageIndexFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, mdesc
}

func TestReferenceRule(t *testing.T) {
	dir, m := testLayout(t, "app:latest", "reg.lan:5000/team/app:v1")
	hex := m.Digest.Encoded()
	for ref, wantName := range map[string]string{
		"app":                      "app:latest",
		"app:latest":               "app:latest",
		"reg.lan:5000/team/app:v1": "reg.lan:5000/team/app:v1",
		m.Digest.String():          "",
		hex[:4]:                    "",
		"sha256:" + hex[:12]:       "",
		hex:                        "",
	} {
		b, err := Resolve(dir, ref)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if b.Ref != wantName || b.Descriptor.Digest != m.Digest {
			t.Errorf("%s: found %q %s, want %q %s", ref, b.Ref, b.Descriptor.Digest, wantName, m.Digest)
		}
	}
	for _, ref := range []string{"other", "app:v1", "reg.lan:5000/team/app", hex[:3], "sha256:0000"} {
		if _, err := Resolve(dir, ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", ref, err)
		}
	}
}

func TestOpen(t *testing.T) {
	dir, _ := testLayout(t, "app:latest")
	b, err := Resolve(dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	tree, c, err := b.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := fsimage.FS(tree).ReadFile("hello"); err != nil || string(got) != "hi\n" {
		t.Errorf("/hello: %q, %v", got, err)
	}
}

// TestCorrupt: a blob that is not what its digest says, a layer of another
// size than the manifest's, a foreign platform: errors, never a box.
func TestCorrupt(t *testing.T) {
	for name, tc := range map[string]struct {
		spoil func(t *testing.T, dir string, m ocispec.Manifest, mdesc ocispec.Descriptor)
		want  string
	}{
		"manifest changed": {func(t *testing.T, dir string, _ ocispec.Manifest, mdesc ocispec.Descriptor) {
			flip(t, BlobPath(dir, mdesc.Digest), 10)
		}, "is corrupt"},
		"config changed": {func(t *testing.T, dir string, m ocispec.Manifest, _ ocispec.Descriptor) {
			flip(t, BlobPath(dir, m.Config.Digest), 3)
		}, "is corrupt"},
		"layer truncated": {func(t *testing.T, dir string, m ocispec.Manifest, _ ocispec.Descriptor) {
			if err := os.Truncate(BlobPath(dir, m.Layers[0].Digest), m.Layers[0].Size-1); err != nil {
				t.Fatal(err)
			}
		}, "size differs"},
		"layer missing": {func(t *testing.T, dir string, m ocispec.Manifest, _ ocispec.Descriptor) {
			if err := os.Remove(BlobPath(dir, m.Layers[0].Digest)); err != nil {
				t.Fatal(err)
			}
		}, "missing"},
	} {
		t.Run(name, func(t *testing.T) {
			dir, mdesc := testLayout(t, "app:latest")
			b, err := Load(dir, mdesc)
			if err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, dir, b.Manifest, mdesc)
			b, err = Resolve(dir, "app")
			if err == nil {
				var c interface{ Close() error }
				_, c, err = b.Open(dir)
				if c != nil {
					c.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func flip(t *testing.T, p string, at int) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x20
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
