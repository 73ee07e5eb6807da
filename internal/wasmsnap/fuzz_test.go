package wasmsnap

import (
	"errors"
	"testing"
)

// FuzzParse: Parse takes untrusted binaries. It must never panic, must
// fail only with a *ParseError, and what it accepts must survive the
// passes: Instrument and Bake either fail cleanly or write a binary Parse
// reads again. (Comparing with what wazero v1.12 accepts was tried: its
// decoder sizes tables by counts it has not checked, so some inputs take
// it seconds and gigabytes, and the fuzzing workers died. TestRealModules
// holds Parse to the modules that run.)
func FuzzParse(f *testing.F) {

	f.Add(testModule())
	f.Add(module(sec(secMemory, vec([]byte{0, 1}))))
	f.Add(module(sec(secMemory, vec([]byte{1, 1, 2})), sec(secGlobal, vec([]byte{valI64, 1, 0x42, 0x7f, 0x0b})), sec(secData, vec([]byte{1, 2, 'h', 'i'}))))
	f.Add(module(sec(secImport, vec(append(append(name("m"), name("g")...), kindGlobal, valI32, 1))), sec(secMemory, vec([]byte{0, 0}))))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if pe.Offset < 0 || pe.Offset > len(b) {
				t.Fatalf("offset %d outside the binary of %d bytes", pe.Offset, len(b))
			}
			return
		}
		if inst, err := Instrument(b); err == nil {
			if _, err := Parse(inst); err != nil {
				t.Fatalf("instrumented module does not parse: %v", err)
			}
		}
		if rest, err := Restorable(b); err == nil {
			rm, err := Parse(rest)
			if err != nil {
				t.Fatalf("restorable module does not parse: %v", err)
			}
			if rm.HasStart() || len(rm.data) != 0 {
				t.Fatal("restorable module has a start function or data")
			}
		}
		if mem, err := InitialMemory(b); err == nil && uint64(len(mem)) != m.MemoryMinimum()*pageSize {
			t.Fatalf("initial memory of %d bytes, want the minimum, %d pages", len(mem), m.MemoryMinimum())
		}
		st := State{Memory: make([]byte, pageSize), Globals: map[uint32]uint64{}}
		st.Memory[3] = 1
		for _, i := range m.MutableGlobals() {
			st.Globals[i] = uint64(i) * 0x0101010101
		}
		for _, d := range []Data{DataFromMemory, HostMemory} {
			if baked, err := Bake(b, st, d); err == nil {
				bm, err := Parse(baked)
				if err != nil {
					t.Fatalf("baked module does not parse: %v", err)
				}
				if bm.HasStart() {
					t.Fatal("baked module has a start function")
				}
			}
		}
	})
}
