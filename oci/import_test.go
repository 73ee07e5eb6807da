package oci

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/shims"
)

// elf is a file a native program would start with.
const elf = "\x7fELF\x02\x01\x01\x00native code"

// testImage makes a linux/amd64 image of the layer tars, with cfg.
func testImage(t testing.TB, cfg v1.Config, layers ...[]byte) v1.Image {
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
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func readBox(t testing.TB, s *Store, desc ocispec.Descriptor) (*Image, fsimage.FileSystem) {
	t.Helper()
	img, err := s.Load(desc)
	if err != nil {
		t.Fatal(err)
	}
	tree, c, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return img, fsimage.FS(tree)
}

func TestImportAlpineLayout(t *testing.T) {
	dir := testutil.ShimsDir(t)
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(t, v1.Config{
		Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar"}, Cmd: []string{"/bin/sh"}, WorkingDir: "/srv",
		Labels: map[string]string{"a": "b"}, ExposedPorts: map[string]struct{}{"80/tcp": {}}, User: "nobody",
	},
		tarOf(t, reg("bin/busybox", elf), symlink("bin/sh", "/bin/busybox"), symlink("bin/ls", "/bin/busybox"),
			symlink("bin/vi", "/bin/busybox"), reg("sbin/apk", elf+"apk"), reg("lib/ld-musl-x86_64.so.1", elf+"libc"),
			symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"), reg("usr/bin/script", "#!/bin/sh\necho hi\n"),
			reg("usr/bin/env", elf), reg("etc/os-release", "ID=alpine\n"), reg("etc/passwd", "root:x:0:0:root:/root:/bin/ash\n"),
			reg("etc/ssl/certs/ca-certificates.crt", "CERTS")),
	)
	desc, rep, err := Import(context.Background(), s, img, WithShimsDir(dir), WithSourceName("test/alpine"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]shims.Base{shims.Shell}, rep.StandIns); diff != "" {
		t.Errorf("stand-ins (-want +got):\n%s", diff)
	}
	for _, p := range []string{"/bin/busybox", "/bin/sh", "/bin/ls", "/usr/bin/env"} {
		if !containsStr(rep.Replaced, p) {
			t.Errorf("replaced %q lacks %s", rep.Replaced, p)
		}
	}
	wantPruned := []string{"/bin/vi", "/lib/ld-musl-x86_64.so.1", "/lib/libc.musl-x86_64.so.1", "/sbin/apk"}
	if diff := cmp.Diff(wantPruned, rep.Pruned); diff != "" {
		t.Errorf("pruned (-want +got):\n%s", diff)
	}
	if want := int64(3*len(elf) + len("apk") + len("libc")); rep.RemovedBytes != want {
		t.Errorf("pruned %d bytes, want %d (the native busybox, apk and libc)", rep.RemovedBytes, want)
	}
	box, fsys := readBox(t, s, desc)
	c := box.Config.Config
	if box.Config.OS != OS || box.Config.Architecture != Architecture {
		t.Errorf("platform %s/%s", box.Config.OS, box.Config.Architecture)
	}
	if diff := cmp.Diff([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar"}, c.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if c.WorkingDir != "/srv" || c.User != "nobody" || c.Labels["a"] != "b" || len(c.ExposedPorts) != 1 || len(c.Cmd) != 1 {
		t.Errorf("config %+v", c)
	}
	if len(box.Manifest.Layers) != 2 {
		t.Errorf("%d layers, want the image's and the shell module's", len(box.Manifest.Layers))
	}
	module, err := fsys.ReadFile("bin/sh")
	if err != nil || !bytes.HasPrefix(module, []byte("\x00asm")) {
		t.Errorf("/bin/sh is not the Wasm shell: %.8q, %v", module, err)
	}
	for p, want := range map[string]string{"etc/os-release": "ID=alpine\n", "etc/ssl/certs/ca-certificates.crt": "CERTS", "usr/bin/script": "#!/bin/sh\necho hi\n"} {
		if b, err := fsys.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want the image's %q", p, b, err, want)
		}
	}
	for _, p := range []string{"sbin/apk", "bin/vi", "lib/ld-musl-x86_64.so.1"} {
		if _, err := fsys.Lstat(p); err == nil {
			t.Errorf("%s is still in the box", p)
		}
	}
	// /bin/cat was not in the image; the shell base gives it.
	if target, err := fsys.ReadLink("bin/cat"); err != nil || target != "/bin/busybox" {
		t.Errorf("bin/cat: %q, %v", target, err)
	}

	again, rep2, err := Import(context.Background(), s, img, WithShimsDir(dir))
	if err != nil || again.Digest != desc.Digest || !rep2.Cached {
		t.Errorf("second import: %v, %v, cached %v; want the same box from the cache", again.Digest, err, rep2 != nil && rep2.Cached)
	}
	kept, rep3, err := Import(context.Background(), s, img, WithShimsDir(dir), WithKeepNative(true))
	if err != nil {
		t.Fatal(err)
	}
	if kept.Digest == desc.Digest || len(rep3.Pruned) != 0 || !containsStr(rep3.Kept, "/sbin/apk") || containsStr(rep3.Kept, "/bin/busybox") {
		t.Errorf("--keep-native: pruned %q kept %q", rep3.Pruned, rep3.Kept)
	}
	_, kfs := readBox(t, s, kept)
	if b, err := kfs.ReadFile("sbin/apk"); err != nil || string(b) != elf+"apk" {
		t.Errorf("kept /sbin/apk: %q, %v", b, err)
	}
}

func TestImportMergedUsrLayout(t *testing.T) {
	dir := testutil.ShimsDir(t)
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Debian: /bin is a link to usr/bin, programs are ELF files.
	img := testImage(t, v1.Config{},
		tarOf(t, symlink("bin", "usr/bin"), symlink("lib", "usr/lib"), reg("usr/bin/dash", elf), symlink("usr/bin/sh", "dash"),
			reg("usr/bin/ls", elf+"ls"), reg("usr/bin/apt", elf+"apt"), reg("usr/bin/which", "#!/bin/sh\n"), reg("usr/lib/x86_64-linux-gnu/libc.so.6", elf+"c")))
	desc, rep, err := Import(context.Background(), s, img, WithShimsDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	_, fsys := readBox(t, s, desc)
	if b, err := fsys.ReadFile("usr/bin/busybox"); err != nil || !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Errorf("usr/bin/busybox: %.8q, %v", b, err)
	}
	if target, err := fsys.ReadLink("bin"); err != nil || target != "usr/bin" {
		t.Errorf("/bin is no longer the image's link: %q, %v", target, err)
	}
	for _, p := range []string{"bin/sh", "bin/ls", "usr/bin/ls", "usr/bin/dash"} {
		if b, err := fsys.ReadFile(p); err != nil || !bytes.HasPrefix(b, []byte("\x00asm")) {
			t.Errorf("%s does not lead to the Wasm module: %v", p, err)
		}
	}
	if b, err := fsys.ReadFile("usr/bin/which"); err != nil || string(b) != "#!/bin/sh\n" {
		t.Errorf("the image's own script usr/bin/which: %q, %v", b, err)
	}
	for _, p := range []string{"usr/bin/apt", "usr/lib/x86_64-linux-gnu/libc.so.6"} {
		if _, err := fsys.Lstat(p); err == nil {
			t.Errorf("%s is still in the box", p)
		}
	}
	if !containsStr(rep.Replaced, "/usr/bin/ls") || !containsStr(rep.Replaced, "/usr/bin/sh") {
		t.Errorf("replaced %q", rep.Replaced)
	}
}

func TestImportRejectsBadLayers(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := tarOf(t, reg("a", strings.Repeat("x", 3000)))
	img := testImage(t, v1.Config{}, good, good[:1500])
	_, _, err = Import(context.Background(), s, img, WithShimsDir(testutil.ShimsDir(t)))
	if err == nil || !strings.Contains(err.Error(), "layer 2") {
		t.Fatalf("a truncated layer: %v, want an error naming layer 2", err)
	}
	// Nothing of it reached the store.
	if n := countBlobs(t, s); n != 0 {
		t.Errorf("%d blobs in the store after a failed import", n)
	}
}

func countBlobs(t testing.TB, s *Store) int {
	t.Helper()
	n := 0
	for _, d := range []string{"blobs", "blobs/sha256"} {
		ents, err := os.ReadDir(filepath.Join(s.Dir(), d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				n++
			}
		}
	}
	return n
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestImportPythonLayout(t *testing.T) {
	dir := testutil.ShimsDir(t)
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The official python image's layout, a pip-installed package in it.
	img := testImage(t, v1.Config{Env: []string{"PYTHON_VERSION=3.12.4"}},
		tarOf(t, reg("bin/dash", elf), symlink("bin/sh", "dash"), reg("usr/local/bin/python3.12", elf+"python"),
			symlink("usr/local/bin/python3", "python3.12"), symlink("usr/local/bin/python", "python3"),
			reg("usr/local/lib/libpython3.12.so.1.0", elf+"libpython"),
			reg("usr/local/lib/python3.12/site-packages/mypkg/__init__.py", "X = 42\n"),
			reg("usr/local/lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so", elf+"ssl")))
	desc, rep, err := Import(context.Background(), s, img, WithShimsDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]shims.Base{shims.Shell, shims.Python}, rep.StandIns); diff != "" {
		t.Errorf("stand-ins (-want +got):\n%s", diff)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "python3.12") {
		t.Errorf("warnings %q: want one about 3.12", rep.Warnings)
	}
	box, fsys := readBox(t, s, desc)
	if len(box.Manifest.Layers) != 3 {
		t.Errorf("%d layers, want the image's, the shell's and python's", len(box.Manifest.Layers))
	}
	for _, p := range []string{"usr/local/bin/python3", "usr/local/bin/python", "usr/local/bin/python3.12"} {
		if b, err := fsys.ReadFile(p); err != nil || !bytes.HasPrefix(b, []byte("\x00asm")) {
			t.Errorf("%s is not the Wasm CPython: %.8q, %v", p, b, err)
		}
	}
	if b, err := fsys.ReadFile("usr/local/lib/python3.12/site-packages/mypkg/__init__.py"); err != nil || string(b) != "X = 42\n" {
		t.Errorf("the image's package: %q, %v", b, err)
	}
	if _, err := fsys.Lstat("usr/local/lib/python3.12/lib-dynload/_ssl.cpython-312-x86_64-linux-gnu.so"); err == nil {
		t.Error("a native extension module is still in the box")
	}
}
