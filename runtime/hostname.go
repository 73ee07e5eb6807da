package runtime

import (
	"io/fs"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// DefaultHostname is the host name of a box whose Cmd sets none. Docker
// names a container's host after its id; a box run has none, so every box
// answers to the same name unless run --hostname says otherwise.
const DefaultHostname = "wasmbox"

// etcHostname is where a run finds its host name, as Docker bind-mounts
// it: served over the box's own file, never written into its layers.
const etcHostname = "etc/hostname"

// hostnameFile is a file system holding only /etc/hostname with name.
func hostnameFile(name string) *Overlay {
	o := NewOverlay(nil)
	// Cannot fail: an empty overlay without limits.
	o.MkdirAll("/etc", 0o755)
	o.WriteFile("/"+etcHostname, []byte(name+"\n"), 0o644, 0, 0, time.Unix(0, 0))
	return o
}

// fileMounts shows single files of other file systems (each at the same
// path there) over a file system: a bind mount of a file.
type fileMounts struct {
	experimentalsys.FS
	files map[string]experimentalsys.FS // by path relative to the root
}

func (f fileMounts) pick(p string) experimentalsys.FS {
	if fsys, ok := f.files[rel(p)]; ok {
		return fsys
	}
	return f.FS
}

func (f fileMounts) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	return f.pick(p).OpenFile(p, flag, perm)
}

func (f fileMounts) Stat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	return f.pick(p).Stat(p)
}

func (f fileMounts) Lstat(p string) (wazerosys.Stat_t, experimentalsys.Errno) {
	return f.pick(p).Lstat(p)
}
