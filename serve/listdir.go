package serve

import (
	"errors"
	"io/fs"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasmbox/wasmbox/runtime"
)

// What serve needs of the Overlay beyond ReadFile, WriteFile and MkdirAll,
// kept here so that a change of the Overlay's API is a change of this file
// only.

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

// errNoListing is what a glob in collect gets until the runtime's Overlay
// can list a directory.
var errNoListing = errors.New("globs need a directory listing, which the runtime's Overlay API does not offer yet: name the files")

// listDir lists the box directory dir (absolute), sorted by name. The
// Overlay has no public listing yet (runtime.Overlay has ReadFile,
// WriteFile, MkdirAll, Symlink, LookPath): when it has one (a ReadDir), this
// is the one function to change, and collect's globs work (glob is tested
// with a listing of its own).
func listDir(ov *runtime.Overlay, dir string) ([]dirEntry, error) {
	return nil, errNoListing
}
