package wasmsnap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// MemoryExport is the name Instrument exports the module's memory under.
const MemoryExport = "wasmsnap:memory"

// GlobalExport is the name Instrument exports the global of the given
// index (in the global index space) under.
func GlobalExport(index uint32) string {
	return "wasmsnap:global:" + strconv.FormatUint(uint64(index), 10)
}

// Instrument returns the module with its memory and each mutable global it
// defines (MutableGlobals) exported under MemoryExport and GlobalExport
// names, for the host to read after initialization. Immutable globals
// cannot change and are not exported. The rest of the module is unchanged.
func Instrument(wasm []byte) ([]byte, error) {
	m, err := Parse(wasm)
	if err != nil {
		return nil, err
	}
	if _, err := m.memory(); err != nil {
		return nil, err
	}
	exports := append([]export(nil), m.exports...)
	names := make(map[string]bool, len(exports))
	for _, e := range exports {
		names[e.name] = true
	}
	add := func(e export) error {
		if names[e.name] {
			return fmt.Errorf("wasm: the module exports %q already", e.name)
		}
		names[e.name] = true
		exports = append(exports, e)
		return nil
	}
	if err := add(export{name: MemoryExport, kind: kindMemory, index: 0}); err != nil {
		return nil, err
	}
	for _, i := range m.MutableGlobals() {
		g := m.globals[i-m.importedGlobals]
		if g.typ != valI32 && g.typ != valI64 && g.typ != valF32 && g.typ != valF64 {
			return nil, fmt.Errorf("wasm: global %d is a mutable %s: only numbers can be captured", i, valName(g.typ))
		}
		if err := add(export{name: GlobalExport(i), kind: kindGlobal, index: i}); err != nil {
			return nil, err
		}
	}
	return m.write(map[byte][]byte{secExport: encodeExports(exports)}), nil
}

// Restorable returns the module as Instrument does, less what
// instantiation would do to its memory: no data segments and no start
// function. One compiled Restorable module starts from any State captured
// of the same module: the host instantiates it on memory that holds
// State.Memory (experimental.WithMemoryAllocator), grows the memory to
// the state's size, and sets each mutable global through its export, so
// that snapshots differing in their state share one compilation (Bake
// needs one per state). Its memory minimum stays the module's own.
func Restorable(wasm []byte) ([]byte, error) {
	inst, err := Instrument(wasm)
	if err != nil {
		return nil, err
	}
	m, err := Parse(inst)
	if err != nil {
		return nil, err
	}
	for _, d := range m.data {
		if !d.active {
			return nil, errors.New("wasm: passive data segments (memory.init) are not supported")
		}
	}
	replace := map[byte][]byte{secStart: nil, secData: nil}
	if m.has(secDataCount) {
		replace[secDataCount] = appendU32(nil, 0)
	}
	return m.write(replace), nil
}

// maxInitialMemory bounds the memory InitialMemory builds: far above a
// real module's minimum (CPython's is under 10 MiB), and what a hostile
// module may make the host allocate.
const maxInitialMemory = 256 << 20

// InitialMemory returns the memory the module's instantiation starts with:
// its minimum size, with its active data segments written in. With
// Restorable, it makes an instance that starts as the module would, before
// its start function. Segment offsets must be i32.const, and segments must
// lie in the minimum.
func InitialMemory(wasm []byte) ([]byte, error) {
	m, err := Parse(wasm)
	if err != nil {
		return nil, err
	}
	lim, err := m.memory()
	if err != nil {
		return nil, err
	}
	if lim.min*pageSize > maxInitialMemory {
		return nil, fmt.Errorf("wasm: a minimum memory of %d pages is over %d MiB", lim.min, maxInitialMemory>>20)
	}
	mem := make([]byte, lim.min*pageSize)
	for i, d := range m.data {
		if !d.active {
			return nil, errors.New("wasm: passive data segments (memory.init) are not supported")
		}
		r := &reader{b: d.offset}
		if r.byte() != 0x41 {
			return nil, fmt.Errorf("wasm: data segment %d: the offset is not an i32.const", i)
		}
		off := uint64(uint32(r.sleb(32)))
		if r.err != nil || r.byte() != 0x0b || r.err != nil {
			return nil, fmt.Errorf("wasm: data segment %d: the offset is not an i32.const", i)
		}
		if off+uint64(len(d.init)) > uint64(len(mem)) {
			return nil, fmt.Errorf("wasm: data segment %d: %d bytes at %d are past the minimum memory (%d bytes)", i, len(d.init), off, len(mem))
		}
		copy(mem[off:], d.init)
	}
	return mem, nil
}

// State is what a snapshot holds of an instance after initialization.
type State struct {
	// Memory is the linear memory, as long as it was: its length sets the
	// memory's minimum. It may be nil with HostMemory, where only MemorySize
	// is needed.
	Memory []byte
	// MemorySize is the memory's length in bytes when Memory is nil.
	MemorySize int
	// Globals holds the value of each mutable global the module defines, by
	// index, as wazero's api.Global.Get returns it (the bits of floats).
	Globals map[uint32]uint64
}

func (s *State) size() int {
	if s.Memory != nil {
		return len(s.Memory)
	}
	return s.MemorySize
}

// Data says what becomes of the data segments in Bake.
type Data int

const (
	// DataFromMemory replaces the data segments with the captured memory,
	// as active segments that leave out runs of zeros.
	DataFromMemory Data = iota
	// HostMemory drops the data segments: the host supplies memory with the
	// captured contents (experimental.WithMemoryAllocator).
	HostMemory
)

// zeroRun is the length from which a run of zero bytes ends a data
// segment: a new segment costs a few bytes of header and one more copy at
// instantiation, so shorter runs stay inside.
const zeroRun = 4096

// Bake returns the module wasm (as it was before Instrument) starting from
// state: each mutable global's initializer is the captured value, the
// memory's minimum covers the captured memory, the data segments are
// replaced as data says, and the start function is removed. Every mutable
// global the module defines must have a value in state.
func Bake(wasm []byte, state State, data Data) ([]byte, error) {
	m, err := Parse(wasm)
	if err != nil {
		return nil, err
	}
	mem, err := m.memory()
	if err != nil {
		return nil, err
	}
	for _, d := range m.data {
		if !d.active {
			return nil, errors.New("wasm: passive data segments (memory.init) are not supported")
		}
	}
	size := state.size()
	if size%pageSize != 0 {
		return nil, fmt.Errorf("wasm: captured memory of %d bytes: not a whole number of pages", size)
	}
	if pages := pagesFor(size); pages > mem.min {
		if mem.flags&1 != 0 && pages > mem.max {
			return nil, fmt.Errorf("wasm: captured memory of %d pages is over the maximum (%d)", pages, mem.max)
		}
		mem.min = pages
	}
	globals := make([]global, len(m.globals))
	copy(globals, m.globals)
	for i := range globals {
		g := &globals[i]
		if !g.mutable {
			continue
		}
		idx := m.importedGlobals + uint32(i)
		v, ok := state.Globals[idx]
		if !ok {
			return nil, fmt.Errorf("wasm: no captured value for mutable global %d", idx)
		}
		if g.init, err = constFor(g.typ, v); err != nil {
			return nil, fmt.Errorf("wasm: global %d: %w", idx, err)
		}
	}
	for idx := range state.Globals {
		if idx < m.importedGlobals || idx-m.importedGlobals >= uint32(len(m.globals)) || !m.globals[idx-m.importedGlobals].mutable {
			return nil, fmt.Errorf("wasm: a value for global %d, which is not a mutable global of the module", idx)
		}
	}
	var segs [][2]int
	if data == DataFromMemory {
		if state.Memory == nil && size > 0 {
			return nil, errors.New("wasm: DataFromMemory needs the captured memory")
		}
		segs = nonZero(state.Memory)
	}
	replace := map[byte][]byte{
		secMemory: encodeMemory(mem),
		secGlobal: encodeGlobals(globals),
		secStart:  nil,
		secData:   encodeData(state.Memory, segs),
	}
	if len(segs) == 0 {
		replace[secData] = nil
	}
	// The data count, when there is one, says how many segments follow.
	if m.has(secDataCount) {
		replace[secDataCount] = appendU32(nil, uint32(len(segs)))
	}
	return m.write(replace), nil
}

func (m *Module) has(id byte) bool {
	for _, s := range m.sections {
		if s.id == id {
			return true
		}
	}
	return false
}

// write returns the module with the contents of the sections in replace
// replaced; nil contents remove the section. A section of replace the
// module lacks is added where the binary format orders it.
func (m *Module) write(replace map[byte][]byte) []byte {
	size := len(m.raw) + 64
	for _, c := range replace {
		size += len(c)
	}
	out := make([]byte, 0, size)
	out = append(out, header...)
	emit := func(id byte, content []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(content)))
		out = append(out, content...)
	}
	var pending []byte // sections to add, in order
	for id := byte(1); id <= secTag; id++ {
		if replace[id] != nil && !m.has(id) {
			pending = append(pending, id)
		}
	}
	sort.Slice(pending, func(i, j int) bool { return order(pending[i]) < order(pending[j]) })
	for _, s := range m.sections {
		for s.id != secCustom && len(pending) > 0 && order(pending[0]) < order(s.id) {
			emit(pending[0], replace[pending[0]])
			pending = pending[1:]
		}
		content, ok := replace[s.id]
		if s.id == secCustom || !ok {
			emit(s.id, s.content)
		} else if content != nil {
			emit(s.id, content)
		}
	}
	for _, id := range pending {
		emit(id, replace[id])
	}
	return out
}

// nonZero returns the [start, end) ranges of mem to keep as data segments:
// everything but runs of zeroRun zero bytes or more.
func nonZero(mem []byte) [][2]int {
	var segs [][2]int
	i := 0
	for i < len(mem) {
		for i < len(mem) && mem[i] == 0 {
			i++
		}
		if i == len(mem) {
			break
		}
		start := i
		end := i
		for i < len(mem) {
			if mem[i] != 0 {
				i++
				end = i
				continue
			}
			j := i
			for j < len(mem) && mem[j] == 0 && j-i < zeroRun {
				j++
			}
			if j-i >= zeroRun || j == len(mem) {
				break
			}
			i = j
		}
		segs = append(segs, [2]int{start, end})
		i = end
	}
	return segs
}

func valName(t byte) string {
	switch t {
	case valI32:
		return "i32"
	case valI64:
		return "i64"
	case valF32:
		return "f32"
	case valF64:
		return "f64"
	case valV128:
		return "v128"
	case valFuncref:
		return "funcref"
	case valExternref:
		return "externref"
	}
	return fmt.Sprintf("type 0x%x", t)
}

// constFor is the constant expression giving v (bits as api.Global.Get
// returns them) to a global of type t.
func constFor(t byte, v uint64) ([]byte, error) {
	switch t {
	case valI32:
		return append(appendS64([]byte{0x41}, int64(int32(uint32(v)))), 0x0b), nil
	case valI64:
		return append(appendS64([]byte{0x42}, int64(v)), 0x0b), nil
	case valF32:
		b := uint32(v)
		return []byte{0x43, byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24), 0x0b}, nil
	case valF64:
		b := []byte{0x44}
		for i := 0; i < 8; i++ {
			b = append(b, byte(v>>(8*i)))
		}
		return append(b, 0x0b), nil
	}
	return nil, fmt.Errorf("a mutable %s cannot be captured", valName(t))
}

// appendU32 and appendU64 append v as unsigned LEB128, which is Go's
// unsigned varint.
func appendU32(b []byte, v uint32) []byte { return binary.AppendUvarint(b, uint64(v)) }

func appendU64(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

func encodeExports(exports []export) []byte {
	b := appendU32(nil, uint32(len(exports)))
	for _, e := range exports {
		b = appendName(b, e.name)
		b = append(b, e.kind)
		b = appendU32(b, e.index)
	}
	return b
}

func encodeMemory(l limits) []byte {
	b := appendU32(nil, 1)
	b = append(b, l.flags)
	b = appendU64(b, l.min)
	if l.flags&1 != 0 {
		b = appendU64(b, l.max)
	}
	return b
}

func encodeGlobals(globals []global) []byte {
	b := appendU32(nil, uint32(len(globals)))
	for _, g := range globals {
		mut := byte(0)
		if g.mutable {
			mut = 1
		}
		b = append(b, g.typ, mut)
		b = append(b, g.init...)
	}
	return b
}

// encodeData is a data section of active segments of memory 0, one per
// range of mem.
func encodeData(mem []byte, segs [][2]int) []byte {
	n := 0
	for _, s := range segs {
		n += s[1] - s[0] + 16
	}
	b := make([]byte, 0, n+5)
	b = appendU32(b, uint32(len(segs)))
	for _, s := range segs {
		b = append(b, 0, 0x41) // active, memory 0; i32.const
		b = appendS64(b, int64(int32(uint32(s[0]))))
		b = append(b, 0x0b)
		b = appendU32(b, uint32(s[1]-s[0]))
		b = append(b, mem[s[0]:s[1]]...)
	}
	return b
}
