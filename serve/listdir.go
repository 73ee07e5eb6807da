package serve

import (
	"errors"
	"io/fs"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasmbox/wasmbox/runtime"
)

// What serve needs of the Overlay beyond its file API: a test of not
// found, and a listing in the shape glob takes.

// isNotExist reports an error of the Overlay for a file that is not there.
func isNotExist(err error) bool {
	return errors.Is(err, experimentalsys.ENOENT) || errors.Is(err, fs.ErrNotExist)
}

// dirEntry is one entry of a box directory.
type dirEntry struct {
	name  string
	isDir bool
}

// listDir lists the box directory dir (absolute), sorted by name.
func listDir(ov *runtime.Overlay, dir string) ([]dirEntry, error) {
	ents, err := ov.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]dirEntry, len(ents))
	for i, e := range ents {
		out[i] = dirEntry{name: e.Name(), isDir: e.IsDir()}
	}
	return out, nil
}
