package runtime

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// A prune removes other wazero versions and the files of modules no box
// has; never a file a live module's record lists, nor one no record lists.
func TestPruneCompilationCache(t *testing.T) {
	dir := t.TempDir()
	r := &Runtime{cacheDir: dir}
	live, dead := [32]byte{1}, [32]byte{2}
	write := func(p, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wz := r.wazeroDir()
	write(filepath.Join(wz, "a"), "aaaa")       // live's
	write(filepath.Join(wz, "b"), "bbbbbbbb")   // dead's
	write(filepath.Join(wz, "shared"), "ss")    // listed by both
	write(filepath.Join(wz, "unknown"), "uuuu") // nobody's record
	write(r.markerPath(live), "a\nshared\n")
	write(r.markerPath(dead), "b\nshared\n../escape\n")
	write(filepath.Join(dir, "wazero-v0.0.1-old", "x"), "xxxxxxxxxx")
	write(filepath.Join(dir, "wasmbox-compiled", "v0.0.1", hex.EncodeToString(dead[:])), "")
	isLive := func(k [32]byte) bool { return k == live }

	u, err := PruneCompilationCache(dir, isLive, false)
	if err != nil {
		t.Fatal(err)
	}
	if u.Stale != 10+8 || u.StaleEntries != 2 || u.Entries != 3 {
		t.Errorf("usage %+v, want 18 stale bytes in 2 of 3 entries", u)
	}
	if _, err := os.Stat(filepath.Join(wz, "b")); err != nil {
		t.Fatal("measuring removed a file")
	}
	if _, err := PruneCompilationCache(dir, isLive, true); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		filepath.Join(wz, "a"): true, filepath.Join(wz, "shared"): true, filepath.Join(wz, "unknown"): true,
		r.markerPath(live): true, filepath.Join(wz, "b"): false, r.markerPath(dead): false,
		filepath.Join(dir, "wazero-v0.0.1-old"): false, filepath.Join(dir, "wasmbox-compiled", "v0.0.1"): false,
	} {
		if _, err := os.Stat(name); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
	if u, _ := PruneCompilationCache(dir, isLive, false); u.Stale != 0 {
		t.Errorf("after a prune: %+v", u)
	}
}
