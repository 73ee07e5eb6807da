package oci_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/oci"
)

// A box pushed to a registry and pulled into another store comes back with
// the digest it had.
func ExamplePull() {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/demo/hello:v1"

	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	here, _ := oci.OpenStore(dir + "/here")
	there, _ := oci.OpenStore(dir + "/there")

	// A box of one layer holding one file.
	w := fsimage.NewWriter()
	w.AddBytes(fsimage.Entry{Path: "hello", Type: fsimage.TypeReg, Mode: 0o644, ModTime: time.Unix(0, 0), Size: 3}, []byte("hi\n"))
	var layer bytes.Buffer
	w.WriteTo(&layer)
	l, _ := here.WriteBlob(oci.MediaTypeFSImage, layer.Bytes())
	box, _ := here.Commit(dockerspec.DockerOCIImage{}, []ocispec.Descriptor{l})
	here.Tag("hello", box)

	if _, err := oci.Push(ctx, here, "hello", ref); err != nil {
		fmt.Println(err)
		return
	}
	img, err := oci.Pull(ctx, there, ref)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Descriptor.Digest == box.Digest, img.Config.OS, img.Config.Architecture)
	// Output: true wasip1 wasm
}
