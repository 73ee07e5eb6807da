package runtime

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
)

// Which modules the compilation cache directory holds is wazero's
// business: its file names are keys over the module and this CPU's
// features. So the runner keeps its own record beside them: a marker per
// module digest, written after wazero compiled the module with the cache
// set (and so wrote it there), under the wazero version that did. A marker
// counts only while wazero's directory for that version holds files;
// removing the cache directory removes both. If a marker lies (someone
// removed single files of wazero's), the first run compiles, as it would
// without the record.

var (
	wazeroVersionOnce sync.Once
	wazeroVersion     string
)

// wazeroVer is the version wazero names its cache directory after: the
// required version of the wazero module, else "dev" (as in test binaries,
// which carry no dependency versions).
func wazeroVer() string {
	wazeroVersionOnce.Do(func() {
		wazeroVersion = "dev"
		info, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		for _, m := range info.Deps {
			if strings.Contains(m.Path, "github.com/tetratelabs/wazero") && m.Version != "" && m.Version != "(devel)" {
				wazeroVersion = m.Version
			}
		}
	})
	return wazeroVersion
}

// markerPath is the marker of module key, or "" when none can be kept.
func (r *Runtime) markerPath(key [32]byte) string {
	if r.cacheDir == "" {
		return ""
	}
	return filepath.Join(r.cacheDir, "wasmbox-compiled", wazeroVer(), hex.EncodeToString(key[:]))
}

// onDisk reports whether the cache directory holds module key compiled.
func (r *Runtime) onDisk(key [32]byte) bool {
	m := r.markerPath(key)
	if m == "" {
		return false
	}
	if _, err := os.Stat(m); err != nil {
		return false
	}
	// wazero's own directory for this version, as it names it, must hold
	// compiled modules: emptied, it holds none of them.
	d, err := os.Open(r.wazeroDir())
	if err != nil {
		return false
	}
	defer d.Close()
	names, _ := d.Readdirnames(1)
	return len(names) > 0
}

// wazeroRoot is the directory the runner gives wazero's file cache, one per
// wazero version. wazero makes a directory of its own inside (named after
// its version and the platform, its business): the runner never needs
// that name, only that it is the one directory there.
func wazeroRoot(cacheDir string) string {
	return filepath.Join(cacheDir, "wazero", wazeroVer())
}

// wazeroDir is the directory wazero keeps compiled modules in: the one
// directory in wazeroRoot (wazeroRoot itself until wazero made it).
func (r *Runtime) wazeroDir() string {
	root := wazeroRoot(r.cacheDir)
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if e.IsDir() {
			return filepath.Join(root, e.Name())
		}
	}
	return root
}

// cacheFiles lists the names in wazero's directory (nil without a cache).
func (r *Runtime) cacheFiles() map[string]bool {
	if r.cacheDir == "" {
		return nil
	}
	names := map[string]bool{}
	if d, err := os.Open(r.wazeroDir()); err == nil {
		all, _ := d.Readdirnames(-1)
		d.Close()
		for _, n := range all {
			names[n] = true
		}
	}
	return names
}

// markOnDisk records that module key is compiled in the cache directory,
// with the names of wazero's files that appeared while it compiled
// (before: cacheFiles then), so that a prune can tell whose they are.
// Best effort: without the record, a later Precompile compiles again.
func (r *Runtime) markOnDisk(key [32]byte, before map[string]bool) {
	m := r.markerPath(key)
	if m == "" {
		return
	}
	if _, err := os.Stat(m); err == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(m), 0o755); err != nil {
		return
	}
	var added []string
	if before != nil {
		for n := range r.cacheFiles() {
			if !before[n] {
				added = append(added, n+"\n")
			}
		}
	}
	os.WriteFile(m, []byte(strings.Join(added, "")), 0o644)
}
