package wasmsnap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/internal/wasmsnap/cowmem"
)

// Encoding of hand-assembled test modules.

func sec(id byte, content ...[]byte) []byte {
	c := bytes.Join(content, nil)
	return append(appendU32([]byte{id}, uint32(len(c))), c...)
}

func vec(items ...[]byte) []byte {
	return append(appendU32(nil, uint32(len(items))), bytes.Join(items, nil)...)
}

func u32(v uint32) []byte { return appendU32(nil, v) }

func name(s string) []byte { return appendName(nil, s) }

func body(code ...byte) []byte {
	b := append([]byte{0}, code...) // no locals
	return append(u32(uint32(len(b))), b...)
}

func module(sections ...[]byte) []byte {
	return append(append([]byte(nil), header...), bytes.Join(sections, nil)...)
}

func i32c(v int32) []byte { return appendS64([]byte{0x41}, int64(v)) }

// testModule has a memory of one page with a data segment, four mutable
// globals (i32, i64, f32, f64) and an immutable one, a start function that
// adds 1 to global 0, and exports:
//
//	init: grows memory by a page, stores 0x12345678 at 70000, sets the
//	      globals 1-3 and adds 100 to global 0
//	get0 get1 get2 get3: the globals; load: the i32 at 70000; data: at 16
func testModule() []byte {
	const addr = 70000
	var f1 []byte
	f1 = append(f1, 0x41, 1, 0x40, 0, 0x1a) // memory.grow 1; drop
	f1 = append(f1, i32c(addr)...)
	f1 = append(f1, i32c(0x12345678)...)
	f1 = append(f1, 0x36, 2, 0) // i32.store
	f1 = append(appendS64(append(f1, 0x42), 0x1122334455667788), 0x24, 1)
	f1 = append(f1, 0x43)
	f1 = binary.LittleEndian.AppendUint32(f1, math.Float32bits(1.5))
	f1 = append(f1, 0x24, 2, 0x44)
	f1 = binary.LittleEndian.AppendUint64(f1, math.Float64bits(-2.25))
	f1 = append(f1, 0x24, 3)
	f1 = append(append(append(f1, 0x23, 0), i32c(100)...), 0x6a, 0x24, 0, 0x0b)
	load := append(append(i32c(addr), 0x28, 2, 0), 0x0b)
	return module(
		sec(secType, vec(
			[]byte{0x60, 0, 0},
			[]byte{0x60, 0, 1, valI32},
			[]byte{0x60, 0, 1, valI64},
			[]byte{0x60, 0, 1, valF32},
			[]byte{0x60, 0, 1, valF64},
		)),
		sec(secFunction, vec(u32(0), u32(0), u32(1), u32(2), u32(3), u32(4), u32(1), u32(1))),
		sec(secMemory, vec([]byte{0, 1})),
		sec(secGlobal, vec(
			[]byte{valI32, 1, 0x41, 0, 0x0b},
			[]byte{valI64, 1, 0x42, 0, 0x0b},
			[]byte{valF32, 1, 0x43, 0, 0, 0, 0, 0x0b},
			[]byte{valF64, 1, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b},
			[]byte{valI32, 0, 0x41, 42, 0x0b},
		)),
		sec(secExport, vec(
			append(name("init"), kindFunc, 1),
			append(name("get0"), kindFunc, 2),
			append(name("get1"), kindFunc, 3),
			append(name("get2"), kindFunc, 4),
			append(name("get3"), kindFunc, 5),
			append(name("load"), kindFunc, 6),
			append(name("data"), kindFunc, 7),
		)),
		sec(secStart, u32(0)),
		sec(secDataCount, u32(1)),
		sec(secCode, vec(
			body(0x23, 0, 0x41, 1, 0x6a, 0x24, 0, 0x0b),
			body(f1...),
			body(0x23, 0, 0x0b),
			body(0x23, 1, 0x0b),
			body(0x23, 2, 0x0b),
			body(0x23, 3, 0x0b),
			body(load...),
			body(0x41, 16, 0x28, 2, 0, 0x0b),
		)),
		sec(secData, vec(append(append([]byte{0}, i32c(16)...), 0x0b, 4, 0xde, 0xad, 0xbe, 0xef))),
		sec(secCustom, name("trailing"), []byte("kept")),
	)
}

func call(t *testing.T, ctx context.Context, mod api.Module, fn string) uint64 {
	t.Helper()
	r, err := mod.ExportedFunction(fn).Call(ctx)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	if len(r) == 0 {
		return 0
	}
	return r[0]
}

// capture reads the state an instrumented instance exports.
func capture(t testing.TB, wasm []byte, mod api.Module) State {
	t.Helper()
	m, err := Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	mem := mod.ExportedMemory(MemoryExport)
	data, ok := mem.Read(0, mem.Size())
	if !ok {
		t.Fatal("reading memory")
	}
	st := State{Memory: bytes.Clone(data), Globals: map[uint32]uint64{}}
	for _, i := range m.MutableGlobals() {
		st.Globals[i] = mod.ExportedGlobal(GlobalExport(i)).Get()
	}
	return st
}

// openImage opens mem as a memory image file, closed at the test's end;
// the test is skipped where there is no copy-on-write memory.
func openImage(t *testing.T, mem []byte) *cowmem.Image {
	t.Helper()
	image := filepath.Join(t.TempDir(), "mem")
	if err := os.WriteFile(image, mem, 0o600); err != nil {
		t.Fatal(err)
	}
	im, err := cowmem.Open(image)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	return im
}

// initialized instruments orig, runs its init export on r and returns
// the state it leaves.
func initialized(t *testing.T, ctx context.Context, r wazero.Runtime, orig []byte) State {
	t.Helper()
	inst, err := Instrument(orig)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, inst, wazero.NewModuleConfig().WithName("init"))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	call(t, ctx, mod, "init")
	return capture(t, inst, mod)
}

func TestInstrumentBake(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	orig := testModule()
	st := initialized(t, ctx, r, orig)
	if len(st.Globals) != 4 {
		t.Fatalf("captured %d globals, want the 4 mutable ones", len(st.Globals))
	}
	if g := st.Globals[0]; g != 101 {
		t.Fatalf("global 0 after start and init = %d, want 101", g)
	}
	if len(st.Memory) != 2*pageSize {
		t.Fatalf("memory of %d bytes, want 2 pages", len(st.Memory))
	}

	for _, tc := range []struct {
		name string
		data Data
	}{{"data", DataFromMemory}, {"host", HostMemory}} {
		t.Run(tc.name, func(t *testing.T) {
			baked, err := Bake(orig, st, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			bm, err := Parse(baked)
			if err != nil {
				t.Fatalf("baked module: %v", err)
			}
			if bm.HasStart() {
				t.Error("the start function is still there")
			}
			if !bytes.Contains(baked, []byte("trailing")) {
				t.Error("the custom section is gone")
			}
			ctx := ctx
			if tc.data == HostMemory {
				ctx = experimental.WithMemoryAllocator(ctx, openImage(t, st.Memory).Allocator())
			}
			for i := 0; i < 2; i++ { // a second instance sees nothing of the first
				mod, err := r.InstantiateWithConfig(ctx, baked, wazero.NewModuleConfig().WithName(""))
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]uint64{
					"get0": 101, // not 102: the start function did not run again
					"get1": 0x1122334455667788,
					"get2": uint64(math.Float32bits(1.5)),
					"get3": math.Float64bits(-2.25),
					"load": 0x12345678,
					"data": 0xefbeadde,
				}
				for fn, w := range want {
					if got := call(t, ctx, mod, fn); got != w {
						t.Errorf("instance %d: %s = %#x, want %#x", i, fn, got, w)
					}
				}
				if got := mod.Memory().Size(); got != 2*pageSize {
					t.Errorf("memory of %d bytes, want 2 pages", got)
				}
				call(t, ctx, mod, "init") // writes, grows: the next instance must not see it
				if got := mod.Memory().Size(); got != 3*pageSize {
					t.Errorf("memory after growing: %d bytes, want 3 pages", got)
				}
				mod.Memory().WriteUint32Le(16, 7)
				mod.Close(ctx)
			}
		})
	}
}

// TestRestorable restores a captured state into one compilation of the
// Restorable module: host memory grown to the state's size, globals set.
func TestRestorable(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	orig := testModule()
	st := initialized(t, ctx, r, orig)
	rest, err := Restorable(orig)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := Parse(rest)
	if err != nil {
		t.Fatalf("restorable module: %v", err)
	}
	if rm.HasStart() || len(rm.data) != 0 {
		t.Fatalf("start %v, %d data segments: want neither", rm.HasStart(), len(rm.data))
	}
	im := openImage(t, st.Memory)
	cm, err := r.CompileModule(ctx, rest)
	if err != nil {
		t.Fatal(err)
	}
	hctx := experimental.WithMemoryAllocator(ctx, im.Allocator())
	for i := 0; i < 2; i++ {
		mod, err := r.InstantiateModule(hctx, cm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		mem := mod.ExportedMemory(MemoryExport)
		if _, ok := mem.Grow(uint32(len(st.Memory)/pageSize) - mem.Size()/pageSize); !ok {
			t.Fatal("growing to the state's size")
		}
		for idx, v := range st.Globals {
			mod.ExportedGlobal(GlobalExport(idx)).(api.MutableGlobal).Set(v)
		}
		want := map[string]uint64{
			"get0": 101, "get1": 0x1122334455667788, "get2": uint64(math.Float32bits(1.5)),
			"get3": math.Float64bits(-2.25), "load": 0x12345678, "data": 0xefbeadde,
		}
		for fn, w := range want {
			if got := call(t, ctx, mod, fn); got != w {
				t.Errorf("instance %d: %s = %#x, want %#x", i, fn, got, w)
			}
		}
		mod.Memory().WriteUint32Le(16, 7) // the next instance must not see it
		mod.Close(ctx)
	}
}

func TestInitialMemory(t *testing.T) {
	mem, err := InitialMemory(testModule())
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, pageSize)
	copy(want[16:], []byte{0xde, 0xad, 0xbe, 0xef})
	if !bytes.Equal(mem, want) {
		t.Fatal("the initial memory is not the minimum with the data segment written in")
	}
	past := module(
		sec(secMemory, vec([]byte{0, 1})),
		sec(secData, vec(append(append([]byte{0}, i32c(pageSize-2)...), 0x0b, 4, 1, 2, 3, 4))),
	)
	if _, err := InitialMemory(past); err == nil || !strings.Contains(err.Error(), "past the minimum memory") {
		t.Fatalf("a segment past the minimum: %v", err)
	}
	global := module(
		sec(secImport, vec(append(append(name("env"), name("g")...), kindGlobal, valI32, 0))),
		sec(secMemory, vec([]byte{0, 1})),
		sec(secData, vec([]byte{0, 0x23, 0, 0x0b, 1, 9})),
	)
	if _, err := InitialMemory(global); err == nil || !strings.Contains(err.Error(), "not an i32.const") {
		t.Fatalf("a segment at global.get: %v", err)
	}
}

func TestNonZero(t *testing.T) {
	mem := make([]byte, 5*zeroRun)
	mem[1] = 1
	mem[10] = 1          // a short run of zeros between: one segment
	mem[2*zeroRun] = 1   // after a long run: a new one
	mem[3*zeroRun+1] = 1 // exactly zeroRun zeros between: a new one
	mem[len(mem)-1] = 1
	got := nonZero(mem)
	want := [][2]int{{1, 11}, {2 * zeroRun, 2*zeroRun + 1}, {3*zeroRun + 1, 3*zeroRun + 2}, {len(mem) - 1, len(mem)}}
	if len(got) != len(want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("segments %v, want %v", got, want)
		}
	}
	if s := nonZero(make([]byte, 100)); len(s) != 0 {
		t.Errorf("all zeros: segments %v", s)
	}
}

func TestBakeRejects(t *testing.T) {
	orig := testModule()
	full := State{Memory: make([]byte, pageSize), Globals: map[uint32]uint64{0: 1, 1: 2, 2: 3, 3: 4}}
	for _, tc := range []struct {
		name string
		st   State
		want string
	}{
		{"missing global", State{Memory: make([]byte, pageSize), Globals: map[uint32]uint64{0: 1}}, "no captured value for mutable global 1"},
		{"immutable global", State{Memory: full.Memory, Globals: map[uint32]uint64{0: 1, 1: 2, 2: 3, 3: 4, 4: 5}}, "global 4, which is not a mutable"},
		{"partial page", State{Memory: make([]byte, 100), Globals: full.Globals}, "not a whole number of pages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Bake(orig, tc.st, DataFromMemory)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	// A module without the sections: Instrument adds an export section,
	// Bake a data section.
	bare := module(sec(secMemory, vec([]byte{0, 1})))
	inst, err := Instrument(bare)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Parse(inst); err != nil || len(m.exports) != 1 {
		t.Fatalf("instrumented bare module: %v, exports %v", err, m)
	}
	mem := make([]byte, pageSize)
	mem[5] = 9
	baked, err := Bake(bare, State{Memory: mem}, DataFromMemory)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Parse(baked); err != nil || len(m.data) != 1 {
		t.Fatalf("baked bare module: %v, data %v", err, m)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := r.Instantiate(ctx, baked); err != nil {
		t.Fatalf("baked bare module: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "no \\0asm magic"},
		{"component", []byte{0, 'a', 's', 'm', 0x0d, 0, 1, 0}, "binary version 0d000100"},
		{"section past the end", module([]byte{secType, 10, 0}), "offset 10: length 10 runs past the end"},
		{"order", module(sec(secGlobal, vec()), sec(secMemory, vec())), "memory section after the global section"},
		{"unknown id", module([]byte{42, 0}), "unknown section id 42"},
		{"long leb", module([]byte{secMemory, 7, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x10}), "memory section: offset 12: integer too large for 32 bits"},
		{"too many", module(sec(secGlobal, u32(1000))), "global section: offset 10: 1000 globals: more than the section can hold"},
		{"bad init", module(sec(secGlobal, vec([]byte{valI32, 0, 0x20, 0, 0x0b}))), "global section: offset 13: instruction 0x20 in a constant expression"},
		{"trailing bytes", module(sec(secStart, u32(0), []byte{1})), "start section: offset 11: 1 bytes after"},
		{"duplicate export", module(sec(secExport, vec(append(name("a"), 0, 0), append(name("a"), 0, 0)))), `export "a" twice`},
		{"max below min", module(sec(secMemory, vec([]byte{1, 2, 1}))), "maximum 1 below minimum 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.wasm)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestLEB(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		r := &reader{b: appendS64(nil, v)}
		if got := r.sleb(64); r.err != nil || got != v || r.pos != len(r.b) {
			t.Errorf("sleb64 of %d: %d, %v", v, got, r.err)
		}
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			r := &reader{b: appendS64(nil, v)}
			if got := r.sleb(32); r.err != nil || got != v {
				t.Errorf("sleb32 of %d: %d, %v", v, got, r.err)
			}
		}
	}
	for _, bad := range [][]byte{{0x80, 0x80, 0x80, 0x80, 0x08}, {0xff, 0xff, 0xff, 0xff, 0x47}, {0x80, 0x80, 0x80, 0x80, 0x80, 0}} {
		r := &reader{b: bad}
		if got := r.sleb(32); r.err == nil {
			t.Errorf("sleb32 of % x: %d, no error", bad, got)
		}
	}
	for _, v := range []uint64{0, 127, 128, math.MaxUint32, math.MaxUint64} {
		r := &reader{b: appendU64(nil, v)}
		bits := uint(64)
		if v <= math.MaxUint32 {
			bits = 32
		}
		if got := r.uleb(bits); r.err != nil || got != v {
			t.Errorf("uleb%d of %d: %d, %v", bits, v, got, r.err)
		}
	}
	r := &reader{b: []byte{0xff, 0xff, 0xff, 0xff, 0x1f}}
	if got := r.uleb(32); r.err == nil {
		t.Errorf("uleb32 of 2^35-1: %d, no error", got)
	}
}

// TestRealModules: the stand-ins the boxes run parse, and their
// instrumented versions compile on wazero.
func TestRealModules(t *testing.T) {
	dir := testutil.ShimsDir(t)
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	for _, name := range []string{"busybox.wasm", "python/python.wasm"} {
		t.Run(name, func(t *testing.T) {
			wasm, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(wasm)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := Instrument(wasm)
			if err != nil {
				t.Fatal(err)
			}
			if testing.Short() {
				return
			}
			cm, err := r.CompileModule(ctx, inst)
			if err != nil {
				t.Fatalf("instrumented: %v", err)
			}
			defer cm.Close(ctx)
			im, err := Parse(inst)
			if err != nil {
				t.Fatal(err)
			}
			exported := map[string]bool{}
			for _, e := range im.exports {
				exported[e.name] = e.kind == kindGlobal
			}
			for _, i := range m.MutableGlobals() {
				if !exported[GlobalExport(i)] {
					t.Errorf("global %d is not exported", i)
				}
			}
			if _, ok := cm.ExportedMemories()[MemoryExport]; !ok {
				t.Error("the memory is not exported")
			}
		})
	}
}
