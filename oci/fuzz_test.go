package oci

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/shims"
)

var writeSeeds = flag.Bool("write-seeds", false, "write the flatten cases as FuzzFlatten seeds under testdata/fuzz")

// FuzzFlatten feeds two layer tars to the flattener and the wasmifier:
// they must not panic, a malformed tar must be an error, and whatever they
// accept must make an fsimage that opens and a spool that leaves nothing
// behind.
func FuzzFlatten(f *testing.F) {
	for _, tc := range flattenCases {
		var layers [2][]byte
		for i, l := range tc.layers {
			layers[i] = tarOf(f, l...)
		}
		f.Add(layers[0], layers[1])
	}
	shimsDir := f.TempDir()
	if err := os.WriteFile(filepath.Join(shimsDir, shims.AppletsFile), []byte("sh\nls\nenv\nbash\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		spool := t.TempDir()
		ft, err := newFlatTree(spool)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ft.Close()
			if ents, _ := os.ReadDir(spool); len(ents) != 0 {
				t.Errorf("the spool directory holds %d files", len(ents))
			}
		}()
		for i, l := range [][]byte{a, b} {
			if err := ft.addLayer(context.Background(), i, bytes.NewReader(l)); err != nil {
				if !strings.Contains(err.Error(), fmt.Sprintf("layer %d", i+1)) {
					t.Errorf("error %q does not name layer %d", err, i+1)
				}
				return
			}
		}
		rep := &Report{}
		if _, err := ft.wasmify(shimsDir, false, rep); err != nil {
			return // an image whose /bin cannot hold the shell
		}
		var out bytes.Buffer
		if _, err := ft.writeTo(&out); err != nil {
			t.Fatalf("the flattened tree does not write: %v", err)
		}
		img, err := fsimage.Open(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("the flattened layer does not open: %v", err)
		}
		if e, ok := img.Lookup("."); !ok || e.Type != fsimage.TypeDir {
			t.Fatalf("root %+v", e)
		}
	})
}

// TestWriteFuzzSeeds writes the flatten cases as seed files of
// FuzzFlatten (go test -run TestWriteFuzzSeeds -write-seeds ./oci).
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("-write-seeds not given")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzFlatten")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range flattenCases {
		var layers [2][]byte
		for i, l := range tc.layers {
			layers[i] = tarOf(t, l...)
		}
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\n", layers[0], layers[1])
		name := strings.NewReplacer(" ", "-", ",", "", ";", "").Replace(tc.name)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
