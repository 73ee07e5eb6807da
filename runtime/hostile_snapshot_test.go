package runtime_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// snapModule assembles a module that offers snapshots: an empty _start,
// wasmbox_snapshot_init with the body init (() -> i32, locals none), and
// a wasmbox_resume that returns 0 (start afresh); a memory of one page
// and a mutable global.
func snapModule(init []byte) []byte {
	str, section, uleb := wasmString, wasmSection, wasmULEB
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(1, []byte{2, 0x60, 0, 0, 0x60, 0, 1, 0x7f})...) // 0: () -> (), 1: () -> i32
	m = append(m, section(3, []byte{3, 0, 1, 1})...)
	m = append(m, section(5, []byte{1, 0, 1})...)
	m = append(m, section(6, []byte{1, 0x7f, 1, 0x41, 0, 0x0b})...)
	exp := []byte{4}
	exp = append(append(exp, str("_start")...), 0, 0)
	exp = append(append(exp, str("wasmbox_snapshot_init")...), 0, 1)
	exp = append(append(exp, str("wasmbox_resume")...), 0, 2)
	exp = append(append(exp, str("memory")...), 2, 0)
	m = append(m, section(7, exp)...)
	body := func(code []byte) []byte {
		b := append([]byte{0}, code...)
		return append(uleb(uint32(len(b))), b...)
	}
	code := []byte{3}
	code = append(code, body([]byte{0x0b})...)
	code = append(code, body(init)...)
	code = append(code, body([]byte{0x41, 0, 0x0b})...)
	return append(m, section(10, code)...)
}

// A box's snapshot initialization runs in the sandbox with a run's
// limits: one that spins, traps, or asks for more memory than a run may
// have ends with an error naming it, and the box still runs (afresh).
func TestHostileSnapshotInit(t *testing.T) {
	ctx := context.Background()
	irt, err := runtime.New(ctx, runtime.NewConfig().WithInterruptible(true).WithCompilationCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer irt.Close(ctx)
	for _, tc := range []struct {
		name string
		init []byte
		want string
	}{
		{"spin", []byte{0x03, 0x40, 0x0c, 0, 0x0b, 0x41, 0, 0x0b}, "time limit"},
		{"trap", []byte{0x00, 0x0b}, "crashed"},
		{"grow", []byte{0x41, 0x80, 0x80, 0x01, 0x40, 0, 0x1a, 0x41, 0, 0x0b}, "memory limit"},
		{"fail", []byte{0x41, 5, 0x0b}, "returned 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			box := buildBox(t, irt, map[string][]byte{"Dockerfile": []byte("FROM scratch\nCOPY snap /bin/snap\n"), "snap": snapModule(tc.init)})
			tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			start := time.Now()
			err := irt.SnapshotBox(tctx, box)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SnapshotBox: %v, want an error saying %q", err, tc.want)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Fatalf("SnapshotBox took %v", d)
			}
			var st runtime.Stats
			if err := irt.RunBox(ctx, box, runtime.Cmd{Args: []string{"/bin/snap"}, Stats: &st}); err != nil || st.Snapshots != 0 {
				t.Fatalf("the box after a failed snapshot: %v, %d snapshots", err, st.Snapshots)
			}
		})
	}
	stillRuns(t, irt)
}
