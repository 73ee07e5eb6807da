package runtime

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
)

var memSeeds = [][]byte{
	[]byte("\x00asm\x01\x00\x00\x00"),
	// type, function, memory (min 3), export, code
	[]byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x05\x03\x01\x00\x03\x07\x0a\x01\x06_start\x00\x00\x0a\x04\x01\x02\x00\x0b"),
	// an imported memory with a maximum: (import "env" "mem" (memory 17 20))
	[]byte("\x00asm\x01\x00\x00\x00\x02\x0d\x01\x03env\x03mem\x02\x01\x11\x14"),
	[]byte("\x00asm\x01\x00\x00\x00\x05\xff\xff\xff"),
}

func TestMemoryMinimum(t *testing.T) {
	for i, want := range []uint64{0, 3, 17} {
		got, err := memoryMinimum(memSeeds[i])
		if err != nil || got != want {
			t.Errorf("seed %d: %d, %v; want %d", i, got, err, want)
		}
	}
	if _, err := memoryMinimum(memSeeds[3]); err == nil {
		t.Error("a truncated section was read")
	}
}

// FuzzMemoryMinimum: no input makes the reader panic, and for every module
// wazero accepts, it reads the same minimum wazero does.
func FuzzMemoryMinimum(f *testing.F) {
	for _, s := range memSeeds {
		f.Add(s)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	f.Fuzz(func(t *testing.T, code []byte) {
		pages, err := memoryMinimum(code)
		cm, cerr := rt.CompileModule(ctx, code)
		if cerr != nil {
			return
		}
		defer cm.Close(ctx)
		if err != nil {
			t.Fatalf("wazero compiles it, the reader fails: %v", err)
		}
		var want uint64
		for _, m := range cm.ExportedMemories() {
			want = max(want, uint64(m.Min()))
		}
		for _, m := range cm.ImportedMemories() {
			want = max(want, uint64(m.Min()))
		}
		if (len(cm.ExportedMemories()) > 0 || len(cm.ImportedMemories()) > 0) && pages != want {
			t.Fatalf("reader %d pages, wazero %d", pages, want)
		}
	})
}
