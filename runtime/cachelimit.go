package runtime

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultCompilationCacheLimit bounds the compilation cache directory of
// a Runtime when its Config sets no other limit.
const DefaultCompilationCacheLimit = 2 << 30

// WithCompilationCacheLimit bounds the bytes the compilation cache
// directory keeps (0: DefaultCompilationCacheLimit; Unlimited: none).
// Past it, the modules compiled longest ago are evicted after each new
// one; an evicted module is compiled again when it runs.
func (c Config) WithCompilationCacheLimit(bytes int64) Config {
	c.cacheLimit = bytes
	return c
}

// boundCache evicts the oldest compiled modules of the cache directory
// (by the time their record was written) until what it holds is within
// the limit. Best effort, as the cache itself.
func (r *Runtime) boundCache() {
	limit := r.cacheLimit
	if r.cacheDir == "" || limit == Unlimited {
		return
	}
	if limit == 0 {
		limit = DefaultCompilationCacheLimit
	}
	wdir := r.wazeroDir()
	size := treeSize(wdir)
	if size <= limit {
		return
	}
	mdir := filepath.Dir(r.markerPath([32]byte{}))
	ents, _ := os.ReadDir(mdir)
	type marker struct {
		path string
		mod  int64
	}
	var markers []marker
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			markers = append(markers, marker{filepath.Join(mdir, e.Name()), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(markers, func(i, j int) bool { return markers[i].mod < markers[j].mod })
	for _, m := range markers {
		if size <= limit {
			return
		}
		for _, name := range markerFiles(m.path) {
			p := filepath.Join(wdir, name)
			if info, err := os.Stat(p); err == nil && os.Remove(p) == nil {
				size -= info.Size()
			}
		}
		os.Remove(m.path)
	}
}

// markerFiles lists the wazero file names a module's record names.
func markerFiles(p string) []string {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n := strings.TrimSpace(sc.Text()); n != "" && !strings.ContainsAny(n, `/\`) {
			names = append(names, n)
		}
	}
	return names
}
