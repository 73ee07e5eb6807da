package convert_test

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/oci"
)

// native is what a native program or library starts with.
const native = "\x7fELF\x02\x01\x01\x00 native code"

type entry struct {
	name string
	typ  byte
	link string
	data string
}

func file(name, data string) entry       { return entry{name: name, typ: tar.TypeReg, data: data} }
func link(name, target string) entry     { return entry{name: name, typ: tar.TypeSymlink, link: target} }
func hardLink(name, target string) entry { return entry{name: name, typ: tar.TypeLink, link: target} }
func directory(name string) entry        { return entry{name: name, typ: tar.TypeDir} }

// layerTar is a layer tar of entries, in order, as a hand-made layer.
func layerTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, ModTime: time.Unix(1700000000, 0)}
		switch e.typ {
		case tar.TypeReg:
			h.Size = int64(len(e.data))
			if strings.HasPrefix(e.data, native) {
				h.Mode = 0o755
			}
		case tar.TypeDir:
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// foreignImage is a linux/amd64 image of the layers (gzip-compressed, as
// registries hold them) with cfg.
func foreignImage(t *testing.T, cfg v1.Config, layers ...[]byte) v1.Image {
	t.Helper()
	img := empty.Image
	for _, l := range layers {
		data := l
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", "amd64", cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// serveRegistry starts an in-memory registry on 127.0.0.1 and returns its
// host:port.
func serveRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// buildDockerfile builds a Dockerfile given as text and returns the
// result and the steps' output.
func buildDockerfile(t *testing.T, store *oci.Store, dockerfile string, opts ...convert.Option) (*convert.Result, string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	opts = append(opts, convert.WithProgress(func(e convert.Event) { log.Write(e.Output) }))
	res, err := build(t, store, dir, opts...)
	return res, log.String(), err
}

// TestFromRegistry is issue 5's case: an image of two layers in a local
// registry, the second deleting a file, making a directory opaque and
// adding a hard link, used as FROM 127.0.0.1:PORT/name:tag.
func TestFromRegistry(t *testing.T) {
	host := serveRegistry(t)
	base := foreignImage(t,
		v1.Config{Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=hello from the base"}, WorkingDir: "/app", Cmd: []string{"/bin/sh"}},
		layerTar(t,
			file("bin/busybox", native+" busybox"), link("bin/sh", "/bin/busybox"), link("bin/ls", "/bin/busybox"),
			file("lib/ld-musl-x86_64.so.1", native+" libc"), link("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
			file("usr/lib/libz.so.1.3", native+" zlib"), link("usr/lib/libz.so.1", "libz.so.1.3"), file("sbin/apk", native+" apk"),
			file("etc/os-release", "ID=testos\n"), directory("data/"), file("data/keep.txt", "kept\n"), file("data/gone.txt", "gone\n"),
			directory("data/opq/"), file("data/opq/old1", "1"), file("data/opq/old2", "2"), file("app/orig.txt", "original\n")),
		layerTar(t,
			file("data/.wh.gone.txt", ""), directory("data/opq/"), file("data/opq/.wh..wh..opq", ""), file("data/opq/new", "new\n"),
			hardLink("app/hard", "app/orig.txt")),
	)
	ref := host + "/test/base:v1"
	push(t, ref, base)

	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, out, err := buildDockerfile(t, store, `FROM `+ref+`
RUN echo "greeting=$GREETING pwd=$(pwd)"; find /app /data /etc /lib /usr/lib /sbin | sort; cat /app/hard; ls /bin/apk /sbin/apk 2>&1 || echo no native programs
`, convert.WithRegistry())
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Logf("build output:\n%s", out)
	if !strings.Contains(out, "imported "+ref) || !strings.Contains(out, "native files pruned") {
		t.Errorf("no import report in the output:\n%s", out)
	}
	want := `greeting=hello from the base pwd=/app
/app
/app/hard
/app/orig.txt
/data
/data/keep.txt
/data/opq
/data/opq/new
/etc
/etc/os-release
/lib
/sbin
/usr/lib
original
`
	i := strings.Index(out, "greeting=")
	j := strings.Index(out, "ls: ")
	if i < 0 || j < i {
		t.Fatalf("the RUN printed:\n%s", out)
	}
	if diff := cmp.Diff(want, out[i:j]); diff != "" {
		t.Errorf("the RUN saw (-want +got):\n%s", diff)
	}
	if !strings.Contains(out, "no native programs") {
		t.Errorf("a native program is still there:\n%s", out)
	}
	if !contains(res.Config.Config.Env, "GREETING=hello from the base") || res.Config.Config.WorkingDir != "/app" {
		t.Errorf("config not inherited: %+v", res.Config.Config)
	}
	tree := boxTree(t, store, res.Descriptor)
	fsys := fsimage.FS(tree)
	if b, err := fsys.ReadFile("bin/sh"); err != nil || !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Errorf("/bin/sh is not the Wasm shell: %.8q, %v", b, err)
	}
	// One file, two names: the first name holds the data.
	if e, ok := tree.Lookup("app/orig.txt"); !ok || e.Type != fsimage.TypeHardlink || e.Linkname != "app/hard" {
		t.Errorf("app/orig.txt: %+v, want a hard link to app/hard", e)
	}

	// A rebuild neither imports again nor runs the RUN again.
	res2, out2, err := buildDockerfile(t, store, `FROM `+ref+`
RUN echo "greeting=$GREETING pwd=$(pwd)"; find /app /data /etc /lib /usr/lib /sbin | sort; cat /app/hard; ls /bin/apk /sbin/apk 2>&1 || echo no native programs
`, convert.WithRegistry())
	if err != nil || res2.Descriptor.Digest != res.Descriptor.Digest || !strings.Contains(out2, "CACHED") {
		t.Errorf("rebuild: %v, digest %s vs %s, output:\n%s", err, res2.Descriptor.Digest, res.Descriptor.Digest, out2)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestHostileImage builds on an image whose layers try tar-slip,
// writing through a link out of the root and hard links to host files.
// Nothing appears outside the store, and the box sees no host file.
func TestHostileImage(t *testing.T) {
	watched := t.TempDir()
	secret := filepath.Join(watched, "secret")
	if err := os.WriteFile(secret, []byte("HOST SECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	storeDir := t.TempDir()
	up := strings.Repeat("../", 12)
	img := foreignImage(t, v1.Config{Env: []string{"PATH=/bin"}},
		layerTar(t, file("bin/busybox", native), link("bin/sh", "busybox"), file("etc/passwd", "root:x:0:0:box:/root:/bin/sh\n"),
			file(up+watched[1:]+"/slip", "evil"), file("../../tmp/x", "evil"), file(watched+"/abs", "evil"), file("/tmp/x", "evil"),
			link("out", watched), file("out/through", "evil"), link("up", up+watched[1:]), file("up/through2", "evil"),
			hardLink("stolen", secret), hardLink("passwd", "/etc/passwd"), hardLink("passwd2", up+"etc/passwd"),
			link("secretlink", secret), link("hostpasswd", "/etc/passwd")),
		layerTar(t, file("out/.wh.secret", "")),
	)
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "hostile:1"})); err != nil {
		t.Fatal(err)
	}
	bc, err := oci.ParseBuildContext("hostile=oci-layout://" + filepath.Join(dir, "layout") + ":1")
	if err != nil {
		t.Fatal(err)
	}
	store, err := oci.OpenStore(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	res, out, err := buildDockerfile(t, store, `FROM hostile
RUN for f in /stolen /passwd /passwd2 /secretlink /out/through /up/through2 /out/secret /tmp/x `+watched+`/secret `+watched+`/slip; do cat $f 2>&1; done; cat /hostpasswd
`, convert.WithBuildContext(bc))
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Logf("build output:\n%s", out)
	if strings.Contains(out, "HOST SECRET") || strings.Contains(out, "evil") {
		t.Errorf("the box read a host file or a dropped entry:\n%s", out)
	}
	if !strings.Contains(out, "root:x:0:0:box:") {
		t.Errorf("/hostpasswd should read the box's own /etc/passwd:\n%s", out)
	}
	if n := strings.Count(out, "dropped layer"); n != 10 {
		t.Errorf("%d dropped entries reported, want 10", n)
	}
	if len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "dropped") {
		t.Errorf("warnings %q: want one about dropped entries", res.Warnings)
	}
	var found []string
	filepath.WalkDir(watched, func(p string, d fs.DirEntry, err error) error {
		if p != watched {
			found = append(found, p)
		}
		return nil
	})
	if diff := cmp.Diff([]string{secret}, found); diff != "" {
		t.Errorf("the watched directory changed (-want +got):\n%s", diff)
	}
	for _, p := range []string{"/tmp/x", filepath.Join(filepath.Dir(storeDir), "tmp", "x")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}
}

// TestRegistryUnreachable: offline, a catalog image still builds from
// the static catalog, with a warning saying why.
func TestRegistryUnreachable(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Port 1 of the loopback: nothing listens, the connection is refused.
	res, out, err := buildDockerfile(t, store, "FROM 127.0.0.1:1/library/alpine:3.20\nRUN echo ok\n", convert.WithRegistry())
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if all := strings.Join(res.Warnings, "\n"); !strings.Contains(all, "cannot be reached") || !strings.Contains(all, "static catalog") {
		t.Errorf("warnings %q: want the fallback explained", res.Warnings)
	}
	_, _, err = buildDockerfile(t, store, "FROM 127.0.0.1:1/nothing/known:1\n", convert.WithRegistry())
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:1") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("an unknown image offline: %v", err)
	}
}
