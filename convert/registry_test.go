package convert_test

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/testregistry"
	"github.com/wasmbox/wasmbox/oci"
)

// TestImageFromRegistryEveryPath: an image of a registry on 127.0.0.1
// serves FROM, COPY --from=IMAGE and RUN --mount=from=IMAGE alike (the
// one fetch of oci).
func TestImageFromRegistryEveryPath(t *testing.T) {
	host := serveRegistry(t)
	base := host + "/test/base:v1"
	push(t, base, foreignImage(t, v1.Config{Env: []string{"PATH=/usr/bin:/bin"}},
		layerTar(t, file("bin/busybox", native+" busybox"), link("bin/sh", "/bin/busybox"), file("etc/os-release", "ID=testos\n"))))
	data := host + "/test/data:v1"
	push(t, data, foreignImage(t, v1.Config{}, layerTar(t, directory("data/"), file("data/msg", "from the data image\n"))))

	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, out, err := buildDockerfile(t, store, `FROM `+base+`
COPY --from=`+data+` /data/msg /copied
RUN --mount=type=bind,from=`+data+`,source=/data,target=/m cat /m/msg /copied /etc/os-release
`, convert.WithRegistry())
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if !strings.Contains(out, "from the data image\nfrom the data image\nID=testos\n") {
		t.Errorf("the RUN did not see the mount, the copy and the base:\n%s", out)
	}
	if b, err := fsimage.FS(boxTree(t, store, res.Descriptor)).ReadFile("copied"); err != nil || string(b) != "from the data image\n" {
		t.Errorf("/copied: %q, %v", b, err)
	}
}

// boxTree opens the layers of the box desc of store as one tree, closed
// when the test ends.
func boxTree(t *testing.T, store *oci.Store, desc ocispec.Descriptor) fsimage.Tree {
	t.Helper()
	box, err := store.Load(desc)
	if err != nil {
		t.Fatal(err)
	}
	tree, closer, err := box.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	return tree
}

// TestPlainHTTPRefusedOnEveryPath: FROM, COPY --from=IMAGE and
// RUN --mount=from=IMAGE of an image on a private address send no plain
// HTTP (before, FROM 10.1.2.3:5000/app sent GET http://10.1.2.3:5000/v2/).
func TestPlainHTTPRefusedOnEveryPath(t *testing.T) {
	const ref = "10.255.255.1:5000/app:v1"
	for name, df := range map[string]string{
		"FROM":                 "FROM " + ref + "\n",
		"COPY --from":          "FROM scratch\nCOPY --from=" + ref + " /a /a\n",
		"RUN --mount from=":    "FROM scratch\nRUN --mount=type=bind,from=" + ref + ",target=/m [\"/m/x\"]\n",
		"FROM with a platform": "FROM --platform=linux/arm64 " + ref + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			store, err := oci.OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			tr := &testregistry.OffMachine{}
			_, out, err := buildDockerfile(t, store, df, convert.WithRegistry(oci.WithTransport(tr)))
			if len(tr.Plain()) > 0 {
				t.Errorf("plain HTTP went out: %q", tr.Plain())
			}
			if err == nil || !strings.Contains(err.Error(), "refusing plain HTTP to 10.255.255.1:5000") {
				t.Errorf("got %v, want the plain-HTTP refusal\n%s", err, out)
			}
			if tr.HTTPS() == 0 {
				t.Errorf("the transport was not used: the test proves nothing")
			}
		})
	}
}
