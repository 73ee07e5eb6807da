package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/schema"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
)

// fsLayer writes an fsimage holding files (path -> content) into s.
func fsLayer(t testing.TB, s *Store, files map[string]string) ocispec.Descriptor {
	t.Helper()
	w := fsimage.NewWriter()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		e := fsimage.Entry{Path: p, Type: fsimage.TypeReg, Mode: 0o644, ModTime: time.Unix(1, 0), Size: int64(len(files[p]))}
		if err := w.AddBytes(e, []byte(files[p])); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	d, err := s.WriteBlob(MediaTypeFSImage, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testBox commits a two-layer box named ref: a base with half a megabyte
// of text (it compresses) and random bytes (they do not), and a small top.
func testBox(t *testing.T, s *Store, ref, greeting string) ocispec.Descriptor {
	t.Helper()
	rnd := make([]byte, 300<<10)
	rand.New(rand.NewSource(1)).Read(rnd)
	base := fsLayer(t, s, map[string]string{
		"etc/words": strings.Repeat("lorem ipsum dolor sit amet\n", 20000),
		"bin/noise": string(rnd),
	})
	top := fsLayer(t, s, map[string]string{"greeting": greeting})
	var cfg dockerspec.DockerOCIImage
	cfg.Config.Env = []string{"GREETING=" + greeting}
	cfg.Config.Cmd = []string{"cat", "/greeting"}
	d, err := s.Commit(cfg, []ocispec.Descriptor{base, top})
	if err != nil {
		t.Fatal(err)
	}
	if ref != "" {
		if err := s.Tag(ref, d); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newRegistry serves go-containerregistry's in-memory registry on
// 127.0.0.1, through wrap when not nil, and returns its host:port.
func newRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// snapshot lists the store's files with their sizes and index.json's
// content: what a failed transfer must leave as it was.
func snapshot(t testing.TB, s *Store) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(s.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.Dir(), p)
		if rel == ".lock" || rel == ".lease" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d\n", rel, info.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := os.ReadFile(filepath.Join(s.Dir(), "index.json"))
	b.Write(idx)
	return b.String()
}

// progressLog records progress reports.
type progressLog struct {
	mu  sync.Mutex
	got map[digest.Digest]ProgressState
	n   int
}

func (p *progressLog) option() Option {
	p.got = map[digest.Digest]ProgressState{}
	return WithProgress(func(e Progress) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.n++
		if e.Done > e.Size || e.Done < 0 {
			panic(fmt.Sprintf("progress %+v: done out of range", e))
		}
		p.got[e.Digest] = e.State
	})
}

func TestPushPullRoundTrip(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, nil)
	src := newStore(t)
	want := testBox(t, src, "demo:v1", "hello")
	ref := host + "/team/demo:v1"

	var pushed progressLog
	wd, err := Push(ctx, src, "demo:v1", ref, pushed.option())
	if err != nil {
		t.Fatal(err)
	}

	// What the registry holds is the wire form of oci/SPEC.md, and valid.
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Digest.String() != wd.Digest.String() || string(rd.MediaType) != ocispec.MediaTypeImageManifest {
		t.Errorf("registry has %s %s, Push returned %s", rd.MediaType, rd.Digest, wd.Digest)
	}
	if err := schema.ValidatorMediaTypeManifest.Validate(bytes.NewReader(rd.Manifest)); err != nil {
		t.Errorf("pushed manifest: %v\n%s", err, rd.Manifest)
	}
	gi, err := rd.Image()
	if err != nil {
		t.Fatal(err)
	}
	cb, err := gi.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.ValidatorMediaTypeImageConfig.Validate(bytes.NewReader(cb)); err != nil {
		t.Errorf("pushed config: %v\n%s", err, cb)
	}
	srcImg, err := src.Resolve("demo:v1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := gi.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Digest.String() != srcImg.Manifest.Config.Digest.String() {
		t.Errorf("pushed config %s, the store's is %s", m.Config.Digest, srcImg.Manifest.Config.Digest)
	}
	for i, l := range m.Layers {
		local := srcImg.Manifest.Layers[i]
		if string(l.MediaType) != MediaTypeFSImageGzip {
			t.Errorf("layer %d: media type %s", i, l.MediaType)
		}
		if l.Annotations[AnnotationFSImageSize] != fmt.Sprint(local.Size) {
			t.Errorf("layer %d: size annotation %q, want %d", i, l.Annotations[AnnotationFSImageSize], local.Size)
		}
		if i == 0 && l.Size >= local.Size {
			t.Errorf("layer %d: %d bytes compressed, %d uncompressed", i, l.Size, local.Size)
		}
		if pushed.got[digest.Digest(l.Digest.String())] != Complete {
			t.Errorf("layer %d: progress %v, want complete", i, pushed.got[digest.Digest(l.Digest.String())])
		}
	}

	// A fresh store pulls it back: the same box, to the byte.
	dst := newStore(t)
	var pulled progressLog
	img, err := Pull(ctx, dst, ref, pulled.option())
	if err != nil {
		t.Fatal(err)
	}
	if img.Descriptor.Digest != want.Digest || img.Ref != ref {
		t.Errorf("pulled %s as %q, want %s as %q", img.Descriptor.Digest, img.Ref, want.Digest, ref)
	}
	for i, l := range img.Manifest.Layers {
		a, _ := os.ReadFile(src.BlobPath(srcImg.Manifest.Layers[i].Digest))
		b, _ := os.ReadFile(dst.BlobPath(l.Digest))
		if !bytes.Equal(a, b) {
			t.Errorf("layer %d differs after the round trip", i)
		}
		if pulled.got[digest.Digest(m.Layers[i].Digest.String())] != Complete {
			t.Errorf("pull of layer %d: progress %v", i, pulled.got[digest.Digest(m.Layers[i].Digest.String())])
		}
	}
	if _, c, err := img.Open(); err != nil {
		t.Error(err)
	} else {
		c.Close()
	}

	// Again: nothing moves, both ways.
	pushed.n, pulled.n = 0, 0
	if _, err := Push(ctx, src, "demo:v1", ref, pushed.option()); err != nil {
		t.Fatal(err)
	}
	for d, st := range pushed.got {
		if st != Exists {
			t.Errorf("second push: %s %v", d, st)
		}
	}
	if _, err := Pull(ctx, dst, ref, pulled.option()); err != nil {
		t.Fatal(err)
	}
	for d, st := range pulled.got {
		if st != Exists {
			t.Errorf("second pull: %s %v", d, st)
		}
	}

	// By digest: checked against it, and known by it.
	byDigest := host + "/team/demo@" + wd.Digest.String()
	img, err = Pull(ctx, newStore(t), byDigest)
	if err != nil {
		t.Fatal(err)
	}
	if img.Ref != byDigest || img.Descriptor.Digest != want.Digest {
		t.Errorf("by digest: %q %s", img.Ref, img.Descriptor.Digest)
	}
}

// corrupt serves the registry with one byte changed in every response to
// a GET whose path matches re.
func corrupt(re *regexp.Regexp) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !re.MatchString(r.URL.Path) {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if len(body) > 0 && rec.Code == http.StatusOK {
				body[len(body)/2] ^= 0x20
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
}

func TestPullTampered(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	testBox(t, src, "demo:v1", "hello")
	img, err := src.Resolve("demo:v1")
	if err != nil {
		t.Fatal(err)
	}
	// The wire digests, from a clean push.
	clean := newRegistry(t, nil)
	wd, err := Push(ctx, src, "demo:v1", clean+"/demo:v1")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(clean + "/demo:v1")
	rd, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	gi, _ := rd.Image()
	m, _ := gi.Manifest()

	for _, tc := range []struct {
		name, path string
		want       string // the digest the error must name
	}{
		{"manifest", "/manifests/", wd.Digest.String()},
		{"config", "/blobs/" + img.Manifest.Config.Digest.String(), img.Manifest.Config.Digest.String()},
		{"layer", "/blobs/" + m.Layers[0].Digest.String(), m.Layers[0].Digest.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := newRegistry(t, corrupt(regexp.MustCompile(regexp.QuoteMeta(tc.path))))
			if _, err := Push(ctx, src, "demo:v1", host+"/demo:v1"); err != nil {
				t.Fatal(err)
			}
			dst := newStore(t)
			keep, err := dst.Commit(dockerspec.DockerOCIImage{}, []ocispec.Descriptor{fsLayer(t, dst, map[string]string{"kept": "yes"})})
			if err != nil {
				t.Fatal(err)
			}
			if err := dst.Tag("other", keep); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dst)
			_, err = Pull(ctx, dst, host+"/demo:v1")
			if err == nil {
				t.Fatal("a tampered pull succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name the blob %s: %v", tc.want, err)
			}
			t.Log(err)
			if after := snapshot(t, dst); after != before {
				t.Errorf("the store changed (-before +after):\n%s", cmp.Diff(before, after))
			}
			if img, err := dst.Resolve("other"); err != nil || img.Descriptor.Digest != keep.Digest {
				t.Errorf("the store's other box: %v", err)
			}
		})
	}
}

func TestPullNotABox(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, nil)
	linux, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := linux.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", "amd64"
	if linux, err = mutate.ConfigFile(linux, cf); err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(host + "/alpine:3.20")
	if err := remote.Write(r, linux); err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: linux, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	ri, _ := name.ParseReference(host + "/multi:1")
	if err := remote.WriteIndex(ri, idx); err != nil {
		t.Fatal(err)
	}

	s := newStore(t)
	before := snapshot(t, s)
	_, err = Pull(ctx, s, host+"/alpine:3.20")
	var nb *NotABoxError
	if !errors.As(err, &nb) || !errors.Is(err, ErrNotABox) {
		t.Fatalf("pulling a linux/amd64 image: %v, want a NotABoxError", err)
	}
	if !strings.Contains(err.Error(), "linux/amd64") || nb.Image == nil {
		t.Errorf("NotABoxError %v, image %v", err, nb.Image)
	}
	// The hook: the converter gets the remote image as it is.
	if ls, err := nb.Image.Layers(); err != nil || len(ls) != 2 {
		t.Errorf("the foreign image's layers: %d, %v", len(ls), err)
	}
	_, err = Pull(ctx, s, host+"/multi:1")
	if !errors.As(err, &nb) || nb.Index == nil || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("pulling an index without a box: %v", err)
	}
	if after := snapshot(t, s); after != before {
		t.Errorf("the store changed:\n%s", cmp.Diff(before, after))
	}
}

func TestPullBoxFromIndex(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, nil)
	src := newStore(t)
	want := testBox(t, src, "demo", "multi")
	if _, err := Push(ctx, src, "demo", host+"/demo:box"); err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(host + "/demo:box")
	box, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	linux, _ := random.Image(512, 1)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: linux, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: box, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: OS, Architecture: Architecture}}})
	ri, _ := name.ParseReference(host + "/demo:multi")
	if err := remote.WriteIndex(ri, idx); err != nil {
		t.Fatal(err)
	}
	img, err := Pull(ctx, newStore(t), host+"/demo:multi")
	if err != nil {
		t.Fatal(err)
	}
	if img.Descriptor.Digest != want.Digest {
		t.Errorf("pulled %s, want %s", img.Descriptor.Digest, want.Digest)
	}
}

func TestRegistryErrors(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, nil)
	s := newStore(t)
	d := testBox(t, s, "demo", "x")
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"pull bad ref", func() error { _, err := Pull(ctx, s, "Bad/Ref"); return err }, `invalid image reference "Bad/Ref"`},
		{"pull empty ref", func() error { _, err := Pull(ctx, s, ""); return err }, "empty image reference"},
		{"pull missing tag", func() error { _, err := Pull(ctx, s, host+"/nothing:here"); return err }, "MANIFEST_UNKNOWN|NAME_UNKNOWN|not found"},
		{"push missing box", func() error { _, err := Push(ctx, s, "nosuch", host+"/x"); return err }, "no such box"},
		{"push to a digest", func() error {
			_, err := Push(ctx, s, "demo", host+"/x@"+d.Digest.String())
			return err
		}, "push to a tag"},
		{"push a digest without a destination", func() error { _, err := Push(ctx, s, d.Digest.String(), ""); return err }, "say where to push it"},
		{"push bad destination", func() error { _, err := Push(ctx, s, "demo", host+"/UP"); return err }, `invalid reference`},
		{"plain HTTP to a private address", func() error { _, err := Pull(ctx, s, "10.255.255.1:5000/x", withRefusedHTTPS()); return err }, "refusing plain HTTP to 10.255.255.1:5000"},
		{"pull a layer that is no fsimage", func() error {
			other := newStore(t)
			if err := other.Tag("junk", newBox(t, other, "not an fsimage")); err != nil {
				return err
			}
			if _, err := Push(ctx, other, "junk", host+"/junk"); err != nil {
				return err
			}
			_, err := Pull(ctx, s, host+"/junk")
			return err
		}, `layer 1 of 1: sha256:[0-9a-f]+ is not a valid fsimage: fsimage: `},
		{"bad insecure registry", func() error { _, err := Pull(ctx, s, "x", WithInsecureRegistries("a/b")); return err }, `insecure registry "a/b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s)
			err := tc.do()
			if err == nil || !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Errorf("got %v, want an error matching %q", err, tc.want)
			}
			if after := snapshot(t, s); after != before {
				t.Errorf("the store changed:\n%s", cmp.Diff(before, after))
			}
		})
	}
}

// withRefusedHTTPS makes every HTTPS request fail at once, so that only
// the plain-HTTP path remains to be refused (or not).
func withRefusedHTTPS() Option {
	return WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Scheme == "https" {
			return nil, errors.New("no TLS in this test")
		}
		return http.DefaultTransport.RoundTrip(r)
	}))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPlainHTTP(t *testing.T) {
	o, err := makeOptions([]Option{WithInsecureRegistries("registry.lan:5000", "build.lan"), WithKeychain(authn.DefaultKeychain)})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost:5000": true, "localhost": true, "[::1]:5000": true, "127.0.0.2": true,
		"registry.lan:5000": true, "registry.lan:5001": false, "build.lan:1234": true,
		"10.0.0.1:5000": false, "192.168.1.2": false, "example.com": false, "localhost.example.com:5000": false,
	} {
		if got := o.plainHTTP(host); got != want {
			t.Errorf("plainHTTP(%q) = %v, want %v", host, got, want)
		}
	}
}
