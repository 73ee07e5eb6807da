package serve

import (
	"io/fs"
	"sort"
	"strings"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasmbox/wasmbox/runtime"
)

// The two places serve touches the Overlay beyond ReadFile and MkdirAll,
// kept here so that a change of the Overlay's API is a change of this
// file only.

// writeFile writes a file of the box, owned by root, as the API places
// it. (Overlay.WriteFile is to become (name, data, perm).)
func writeFile(ov *runtime.Overlay, name string, data []byte, perm fs.FileMode) error {
	return ov.WriteFile(name, data, perm, 0, 0, time.Time{})
}

// dirEntry is one entry of a box directory.
type dirEntry struct {
	name  string
	isDir bool
}

// listDir lists the box directory dir (absolute), sorted by name,
// following symlinks to it. It reads the directory through the Overlay's
// file API, which the runtime may replace with a listing of its own.
func listDir(ov *runtime.Overlay, dir string) ([]dirEntry, error) {
	p := strings.TrimPrefix(dir, "/")
	if p == "" {
		p = "."
	}
	f, errno := ov.OpenFile(p, experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	if errno != 0 {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: errno}
	}
	defer f.Close()
	ents, errno := f.Readdir(-1)
	if errno != 0 {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: errno}
	}
	out := make([]dirEntry, 0, len(ents))
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." {
			continue
		}
		out = append(out, dirEntry{name: e.Name, isDir: e.Type.IsDir()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}
