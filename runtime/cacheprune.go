package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmbox/wasmbox/internal/wasmsnap"
)

// CacheUsage is what a compilation cache directory holds.
type CacheUsage struct {
	Size  int64 // bytes of files in the directory
	Stale int64 // bytes no live module needs (what a prune frees)
	// Entries and StaleEntries count compiled modules (and whole
	// directories of other wazero versions).
	Entries, StaleEntries int
}

// PruneCompilationCache reports, and with remove deletes, what the
// compilation cache directory dir (NewConfig().WithCompilationCacheDir)
// holds that no live module needs: the directories of other wazero
// versions, which this runner never reads, and the modules compiled here
// whose digest (SHA-256 of the module) live does not report. A file of
// wazero's that no record attributes to a module (compiled before records
// were kept) stays: only ever what is known to be unused goes.
//
// The code an interruptible Runtime compiled (in a directory of its own
// inside dir) is counted and pruned with the rest.
func PruneCompilationCache(dir string, live func(module [32]byte) bool, remove bool) (CacheUsage, error) {
	u, err := pruneCacheDir(dir, live, remove)
	if err != nil {
		return u, err
	}
	iu, err := pruneCacheDir(filepath.Join(dir, interruptibleDir), live, remove)
	u.Size, u.Stale = u.Size+iu.Size, u.Stale+iu.Stale
	u.Entries, u.StaleEntries = u.Entries+iu.Entries, u.StaleEntries+iu.StaleEntries
	return u, err
}

// interruptibleDir is where, inside a compilation cache directory, an
// interruptible Runtime keeps its code and records.
const interruptibleDir = "interruptible"

func pruneCacheDir(dir string, live func(module [32]byte) bool, remove bool) (CacheUsage, error) {
	var u CacheUsage
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return u, nil
	}
	if err != nil {
		return u, err
	}
	r := &Runtime{cacheDir: dir}
	current, err := filepath.Rel(dir, r.wazeroDir())
	if err != nil {
		return u, err
	}
	var stale []string // paths to remove
	staleTree := func(p string) {
		size := treeSize(p)
		u.Entries++
		u.StaleEntries++
		u.Stale += size
		stale = append(stale, p)
	}
	for _, e := range ents {
		if e.Name() == interruptibleDir {
			continue
		}
		p := filepath.Join(dir, e.Name())
		u.Size += treeSize(p)
		if strings.HasPrefix(e.Name(), "wazero-") {
			staleTree(p) // wazero's directory as an earlier runner placed it
		}
	}
	// wazero's directories of other versions.
	versionDirs, _ := os.ReadDir(filepath.Join(dir, "wazero"))
	for _, v := range versionDirs {
		if v.Name() != wazeroVer() {
			staleTree(filepath.Join(dir, "wazero", v.Name()))
		}
	}
	markers := filepath.Join(dir, "wasmbox-compiled")
	versions, _ := os.ReadDir(markers)
	keep := map[string]bool{} // wazero files of live modules
	drop := map[string]bool{} // ... of modules no box has
	for _, v := range versions {
		vdir := filepath.Join(markers, v.Name())
		if v.Name() != wazeroVer() {
			stale = append(stale, vdir)
			u.Stale += treeSize(vdir)
			continue
		}
		ms, _ := os.ReadDir(vdir)
		for _, m := range ms {
			var key [32]byte
			b, err := hex.DecodeString(m.Name())
			if err != nil || len(b) != len(key) {
				continue
			}
			copy(key[:], b)
			data, _ := os.ReadFile(filepath.Join(vdir, m.Name()))
			files := strings.Fields(string(data))
			u.Entries++
			if live(key) {
				for _, f := range files {
					keep[f] = true
				}
				continue
			}
			u.StaleEntries++
			stale = append(stale, filepath.Join(vdir, m.Name()))
			for _, f := range files {
				drop[f] = true
			}
		}
	}
	for f := range drop {
		if keep[f] || f != filepath.Base(f) {
			continue
		}
		p := filepath.Join(dir, current, f)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			u.Stale += fi.Size()
			stale = append(stale, p)
		}
	}
	if remove {
		for _, p := range stale {
			if err := os.RemoveAll(p); err != nil {
				return u, err
			}
		}
	}
	return u, nil
}

// treeSize is the size of the regular files under p.
func treeSize(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// ModuleDigests returns the digests (SHA-256) of the box's Wasm modules,
// the keys PruneCompilationCache asks about.
func (b *Box) ModuleDigests() ([][32]byte, error) {
	progs, keys, err := b.snapshotPrograms()
	if err != nil {
		return nil, err
	}
	out := make([][32]byte, 0, len(keys)+len(progs))
	for _, key := range keys {
		out = append(out, key)
	}
	// The module a program's snapshots start from (SnapshotBox).
	for _, sp := range progs {
		if rest, err := wasmsnap.Restorable(sp.code); err == nil {
			out = append(out, sha256.Sum256(rest))
		}
	}
	return out, nil
}

// PruneSnapshots reports, and with remove deletes, the snapshots that the
// compilation cache directory dir holds (SnapshotBox) of boxes liveBox
// does not report (by manifest digest), or in a format this runner does
// not read, and the memories no kept snapshot uses.
func PruneSnapshots(dir string, liveBox func(digest string) bool, remove bool) (CacheUsage, error) {
	var u CacheUsage
	sdir := snapDirOf(dir)
	ents, err := os.ReadDir(sdir)
	if os.IsNotExist(err) {
		return u, nil
	}
	if err != nil {
		return u, err
	}
	used := map[string]bool{}
	var stale []string
	var memories []os.DirEntry
	for _, e := range ents {
		p := filepath.Join(sdir, e.Name())
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		u.Size += fi.Size()
		if strings.HasPrefix(e.Name(), "memory-") {
			memories = append(memories, e)
			continue
		}
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		u.Entries++
		idx, err := readIndexFile(p)
		if err == nil && idx.Format == snapshotFormat && liveBox(idx.Box) {
			for _, rec := range idx.Snapshots {
				used[rec.Memory] = true
			}
			continue
		}
		u.StaleEntries++
		u.Stale += fi.Size()
		stale = append(stale, p)
	}
	for _, e := range memories {
		digest := strings.TrimSuffix(strings.TrimPrefix(e.Name(), "memory-"), ".gz")
		if used[digest] {
			continue
		}
		if fi, err := e.Info(); err == nil {
			u.Stale += fi.Size()
		}
		stale = append(stale, filepath.Join(sdir, e.Name()))
	}
	if remove {
		for _, p := range stale {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return u, err
			}
		}
	}
	return u, nil
}
