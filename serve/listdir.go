package serve

import (
	"errors"
	"io/fs"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasmbox/wasmbox/runtime"
)

// What serve needs of the Overlay beyond ReadFile and MkdirAll, kept here
// so that a change of the Overlay's API is a change of this file only.

// writeFile writes a file of the box (owned by root), as the API places it.
func writeFile(ov *runtime.Overlay, name string, data []byte, perm fs.FileMode) error {
	return ov.WriteFile(name, data, perm)
}

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
