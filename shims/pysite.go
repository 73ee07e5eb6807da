package shims

import (
	"bytes"
	"embed"
	"io"
	"io/fs"

	"github.com/wasmbox/wasmbox/fsimage"
)

// pySite holds what the python base adds beside its stdlib: _wasmbox.py
// and _wasmbox_wasi.py, which make what WASI cannot do fail with a Python
// exception that says so (RATIONALE.md). The base's site module imports
// the first at start-up (python/build.sh): beside the stdlib, every
// interpreter of the box finds it, one in a virtual environment too, which
// does not see the base's site-packages.
//
//go:embed pysite/_wasmbox.py pysite/_wasmbox_wasi.py
var pySite embed.FS

// addPythonSite adds pySite's files to the python base's stdlib directory.
func addPythonSite(add func(fsimage.Entry, func() (io.ReadCloser, error))) error {
	return fs.WalkDir(pySite, "pysite", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := pySite.ReadFile(p)
		if err != nil {
			return err
		}
		add(fsimage.Entry{Path: "usr/local/lib/python" + PythonVersion + "/" + d.Name(), Type: fsimage.TypeReg, Mode: 0o644, Size: int64(len(data))},
			func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		return nil
	})
}

// stampPythonSite feeds pySite's files to a base layer's stamp: they are
// part of the layer but not of the shims directory.
func stampPythonSite(w io.Writer) error {
	return fs.WalkDir(pySite, "pysite", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := pySite.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, p+"\x00"+string(data)+"\x00")
		return err
	})
}
