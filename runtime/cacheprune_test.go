package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
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

// An interruptible Runtime sharing the cache directory keeps its code and
// its records apart (code compiled without the checks must never pass for
// code with them), and a prune covers both.
func TestInterruptibleCacheApart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	plain, err := New(ctx, NewConfig().WithCompilationCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(ctx)
	intr, err := New(ctx, NewConfig().WithCompilationCacheDir(dir).WithInterruptible(true))
	if err != nil {
		t.Fatal(err)
	}
	defer intr.Close(ctx)
	o, key := progOverlay(t)
	if err := plain.Precompile(ctx, o, "/bin/prog"); err != nil {
		t.Fatal(err)
	}
	if !plain.onDisk(key) {
		t.Fatal("the plain runtime kept no record")
	}
	if intr.onDisk(key) {
		t.Fatal("the interruptible runtime takes the plain runtime's code for its own")
	}
	if err := intr.Precompile(ctx, o, "/bin/prog"); err != nil {
		t.Fatal(err)
	}
	if !intr.onDisk(key) || intr.markerPath(key) == plain.markerPath(key) {
		t.Fatalf("records: %s and %s", intr.markerPath(key), plain.markerPath(key))
	}
	u, err := PruneCompilationCache(dir, func([32]byte) bool { return false }, true)
	if err != nil {
		t.Fatal(err)
	}
	if u.Entries != 2 || u.StaleEntries != 2 {
		t.Fatalf("prune: %+v, want both compiled copies", u)
	}
	if plain.onDisk(key) || intr.onDisk(key) {
		t.Fatal("a record outlived the prune")
	}
}

// progOverlay is a file system holding wasmModuleForCache at /bin/prog,
// and the module's key.
func progOverlay(t *testing.T) (*Overlay, [32]byte) {
	t.Helper()
	o := NewOverlay(nil)
	if err := o.MkdirAll("/bin", 0o755); err != nil {
		t.Fatal(err)
	}
	mod := wasmModuleForCache()
	if err := o.WriteFile("/bin/prog", mod, 0o755); err != nil {
		t.Fatal(err)
	}
	return o, sha256.Sum256(mod)
}

// wasmModuleForCache is the smallest command module: an empty _start.
func wasmModuleForCache() []byte {
	return []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
		0x03, 0x02, 0x01, 0x00, // function 0 of type 0
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export _start
		0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: an empty body
	}
}

// Precompile only fills the cache on disk; a warm-up (WarmBox's) also
// loads what the cache holds into the Runtime's memory, so that a
// server's first run loads nothing.
func TestWarmLoadsFromCache(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	o, key := progOverlay(t)
	first, err := New(ctx, NewConfig().WithCompilationCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Precompile(ctx, o, "/bin/prog"); err != nil {
		t.Fatal(err)
	}
	first.Close(ctx)
	second, err := New(ctx, NewConfig().WithCompilationCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(ctx)
	if err := second.Precompile(ctx, o, "/bin/prog"); err != nil || second.isCompiled(key) {
		t.Fatalf("Precompile of a module on disk: %v, in memory %v (want it left on disk)", err, second.isCompiled(key))
	}
	if err := second.precompile(ctx, o.fs, true, []string{"/bin/prog"}); err != nil || !second.isCompiled(key) {
		t.Fatalf("a warm-up: %v, in memory %v", err, second.isCompiled(key))
	}
}

// A snapshot prune removes the indexes of boxes no longer in the store,
// those that fail their check, and the memories no kept index uses.
func TestPruneSnapshots(t *testing.T) {
	dir := t.TempDir()
	sdir := snapDirOf(dir)
	mem := func(b byte) string {
		d, err := writeMemory(sdir, bytes.Repeat([]byte{b}, 65536))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	kept, shared, dropped := mem(1), mem(2), mem(3)
	index := func(box string, mems ...string) string {
		idx := &snapIndex{Format: snapshotFormat, Box: box}
		for _, m := range mems {
			idx.Snapshots = append(idx.Snapshots, snapRecord{Memory: m})
		}
		p := indexPath(sdir, snapKey{box: box}, "")
		if err := writeIndex(p, idx); err != nil {
			t.Fatal(err)
		}
		return p
	}
	live := index("sha256:live", kept, shared)
	dead := index("sha256:dead", shared, dropped)
	bad := index("sha256:live-too", dropped)
	if err := os.WriteFile(bad, []byte("sha256:00\n{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	isLive := func(d string) bool { return strings.HasPrefix(d, "sha256:live") }
	u, err := PruneSnapshots(dir, isLive, false)
	if err != nil {
		t.Fatal(err)
	}
	if u.Entries != 3 || u.StaleEntries != 2 {
		t.Fatalf("%d entries, %d stale: want 3, 2", u.Entries, u.StaleEntries)
	}
	if _, err := os.Stat(dead); err != nil {
		t.Fatal("a report removed something")
	}
	if _, err := PruneSnapshots(dir, isLive, true); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{live: true, dead: false, bad: false, memoryPath(sdir, kept): true, memoryPath(sdir, shared): true, memoryPath(sdir, dropped): false} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}
