package convert

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary Dockerfiles to the frontend's parse step: it
// returns stages or an error naming the file, never panics.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../testdata/dockerfiles/*/Dockerfile", "../testdata/dockerfiles-negative/*/Dockerfile", "../examples/*/Dockerfile"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("# escape=`\nFROM alpine\nRUN echo `\n  hi\n"))
	f.Add([]byte("FROM alpine AS a\nFROM a\nCOPY --from=a / /\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		b := &builder{file: "Dockerfile"}
		stages, err := b.parse(src)
		if err == nil && len(stages) == 0 {
			t.Fatal("no error and no stage")
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not a *convert.Error: %v", err, err)
			}
		}
	})
}
