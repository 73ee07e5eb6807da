package oci

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestLayoutImageReference: an OCI layout's image is named by the store's
// rule (digest, digest prefix, name with latest as default tag), else by
// its tag part.
func TestLayoutImageReference(t *testing.T) {
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]v1.Image{}
	for _, name := range []string{"acme/base:3.20", "3.19", "tool:latest"} {
		img, err := mutate.Config(empty.Image, v1.Config{Env: []string{"NAME=" + name}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{ocispec.AnnotationRefName: name})); err != nil {
			t.Fatal(err)
		}
		images[name] = img
	}
	digestOf := func(name string) string {
		d, err := images[name].Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	for ref, want := range map[string]string{
		"acme/base:3.20":                    "acme/base:3.20",
		"3.20":                              "acme/base:3.20",
		"3.19":                              "3.19",
		"tool":                              "tool:latest",
		digestOf("3.19"):                    "3.19",
		digestOf("tool:latest")[7 : 7+12]:   "tool:latest",
		"sha256:" + digestOf("3.19")[7:7+8]: "3.19",
	} {
		img, err := LayoutImage(dir, ref)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		cf, err := img.ConfigFile()
		if err != nil || len(cf.Config.Env) != 1 || cf.Config.Env[0] != "NAME="+want {
			t.Errorf("%s: got %v (%v), want %s", ref, cf.Config.Env, err, want)
		}
	}
	for ref, wantErr := range map[string]string{"": "holds 3 images", "3.21": "no image is named"} {
		if _, err := LayoutImage(dir, ref); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: %v, want %q", ref, err, wantErr)
		}
	}
}
