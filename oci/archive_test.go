package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/image-spec/schema"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func save(t *testing.T, s *Store, refs ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Save(context.Background(), s, &buf, refs...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarEntries reads an archive's entries in order.
func tarEntries(t *testing.T, b []byte) (hdrs []*tar.Header, data [][]byte) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, data
		}
		if err != nil {
			t.Fatal(err)
		}
		d, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hdrs, data = append(hdrs, h), append(data, d)
	}
}

// rewrite rebuilds an archive through edit, which may change an entry or
// drop it (nil header), then appends extra.
func rewrite(t *testing.T, b []byte, edit func(h *tar.Header, d []byte) (*tar.Header, []byte), extra ...func(*tar.Writer)) []byte {
	t.Helper()
	hdrs, data := tarEntries(t, b)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for i, h := range hdrs {
		h, d := edit(h, data[i])
		if h == nil {
			continue
		}
		h.Size = int64(len(d))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(d)
	}
	for _, e := range extra {
		e(tw)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	a := testBox(t, src, "demo:v1", "hello")
	b := testBox(t, src, "registry.example:5000/team/other:v2", "bye")
	arc := save(t, src, "demo:v1", "registry.example:5000/team/other:v2", "demo:v1")
	if again := save(t, src, "demo:v1", "registry.example:5000/team/other:v2"); !bytes.Equal(again, arc) {
		t.Error("saving the same boxes twice gave different archives")
	}

	// The archive is an OCI image layout, valid, naming the boxes as the
	// store does.
	hdrs, data := tarEntries(t, arc)
	files := map[string][]byte{}
	for i, h := range hdrs {
		files[h.Name] = data[i]
	}
	if err := schema.ValidatorMediaTypeLayoutHeader.Validate(bytes.NewReader(files["oci-layout"])); err != nil {
		t.Errorf("oci-layout: %v", err)
	}
	if err := schema.ValidatorMediaTypeImageIndex.Validate(bytes.NewReader(files["index.json"])); err != nil {
		t.Errorf("index.json: %v", err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range idx.Manifests {
		names = append(names, d.Annotations[ocispec.AnnotationRefName]+" "+d.Digest.String())
		m := files["blobs/sha256/"+d.Digest.Encoded()]
		if err := schema.ValidatorMediaTypeManifest.Validate(bytes.NewReader(m)); err != nil {
			t.Errorf("manifest %s: %v", d.Digest, err)
		}
	}
	want := []string{"demo:v1 " + a.Digest.String(), "registry.example:5000/team/other:v2 " + b.Digest.String()}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("index.json names (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name string
		arc  []byte
	}{
		{"tar", arc},
		{"gzip", gzipped(arc)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := newStore(t)
			imgs, err := Load(ctx, dst, bytes.NewReader(tc.arc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, img := range imgs {
				got = append(got, img.Ref+" "+img.Descriptor.Digest.String())
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("loaded (-want +got):\n%s", diff)
			}
			if again := save(t, dst, "demo:v1", "registry.example:5000/team/other:v2"); !bytes.Equal(again, arc) {
				t.Error("the loaded boxes save to another archive")
			}
		})
	}

	// A box saved by digest loads unnamed, found by its digest.
	dst := newStore(t)
	imgs, err := Load(ctx, dst, bytes.NewReader(save(t, src, a.Digest.String())))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Ref != "" || imgs[0].Descriptor.Digest != a.Digest {
		t.Fatalf("loaded %+v", imgs)
	}
	if _, err := dst.Resolve(a.Digest.Encoded()[:12]); err != nil {
		t.Error(err)
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestLoadBadArchives(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	testBox(t, src, "demo:v1", "hello")
	img, err := src.Resolve("demo:v1")
	if err != nil {
		t.Fatal(err)
	}
	arc := save(t, src, "demo:v1")
	layer := "blobs/sha256/" + img.Manifest.Layers[1].Digest.Encoded()
	keep := func(h *tar.Header, d []byte) (*tar.Header, []byte) { return h, d }
	add := func(h *tar.Header, d string) func(*tar.Writer) {
		return func(tw *tar.Writer) {
			h.Size = int64(len(d))
			tw.WriteHeader(h)
			tw.Write([]byte(d))
		}
	}
	outside := filepath.Join(t.TempDir(), "evil")
	for _, tc := range []struct {
		name string
		arc  []byte
		want string
	}{
		{"tampered layer", rewrite(t, arc, func(h *tar.Header, d []byte) (*tar.Header, []byte) {
			if h.Name == layer {
				d = bytes.Clone(d)
				d[len(d)/2] ^= 1
			}
			return h, d
		}), `archive blob sha256:` + img.Manifest.Layers[1].Digest.Encoded() + ` is corrupt or tampered with`},
		{"tampered index", rewrite(t, arc, func(h *tar.Header, d []byte) (*tar.Header, []byte) {
			if h.Name == "index.json" {
				d = bytes.Replace(d, []byte(img.Descriptor.Digest.Encoded()[:8]), []byte("00000000"), 1)
			}
			return h, d
		}), `blob sha256:00000000[0-9a-f]+ is not in the archive`},
		{"layer missing", rewrite(t, arc, func(h *tar.Header, d []byte) (*tar.Header, []byte) {
			if h.Name == layer {
				return nil, nil
			}
			return h, d
		}), `layer 2 of 2: fetching sha256:[0-9a-f]+: blob sha256:[0-9a-f]+ is not in the archive`},
		{"no index", rewrite(t, arc, func(h *tar.Header, d []byte) (*tar.Header, []byte) {
			if h.Name == "index.json" {
				return nil, nil
			}
			return h, d
		}), `no index.json`},
		{"dot-dot entry", rewrite(t, arc, keep, add(&tar.Header{Typeflag: tar.TypeReg, Name: "../" + outside, Mode: 0o644}, "x")), `archive entry "\.\./.*evil": not a plain path`},
		{"absolute entry", rewrite(t, arc, keep, add(&tar.Header{Typeflag: tar.TypeReg, Name: outside, Mode: 0o644}, "x")), `archive entry ".*evil": not a plain path`},
		{"symlink", rewrite(t, arc, keep, add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "blobs/sha256/" + strings.Repeat("a", 64), Linkname: "/etc/passwd"}, "")), `symbolic link`},
		{"hard link", rewrite(t, arc, keep, add(&tar.Header{Typeflag: tar.TypeLink, Name: "blobs/x", Linkname: "/etc/passwd"}, "")), `hard link`},
		{"stray file", rewrite(t, arc, keep, add(&tar.Header{Typeflag: tar.TypeReg, Name: "run.sh", Mode: 0o755}, "x")), `archive entry "run.sh": not part of an OCI image layout`},
		{"bad blob name", rewrite(t, arc, keep, add(&tar.Header{Typeflag: tar.TypeReg, Name: "blobs/sha256/xyz", Mode: 0o644}, "x")), `"blobs/sha256/xyz": not a blob name`},
		{"not a tar", []byte("hello, this is not an archive at all, not even close to one; " + strings.Repeat("x", 600)), `not a tar archive`},
		{"empty", nil, `no oci-layout file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := newStore(t)
			testBox(t, dst, "other", "kept")
			before := snapshot(t, dst)
			_, err := Load(ctx, dst, bytes.NewReader(tc.arc))
			if err == nil || !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Fatalf("got %v, want an error matching %q", err, tc.want)
			}
			t.Log(err)
			if after := snapshot(t, dst); after != before {
				t.Errorf("the store changed (-before +after):\n%s", cmp.Diff(before, after))
			}
			if _, err := os.Stat(outside); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a file was written outside the store: %v", err)
			}
		})
	}
}
