package wasmsnap

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Section ids of the binary format (WebAssembly 2.0, 5.5).
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13 // exception handling
)

// Value types of globals.
const (
	valI32       = 0x7f
	valI64       = 0x7e
	valF32       = 0x7d
	valF64       = 0x7c
	valV128      = 0x7b
	valFuncref   = 0x70
	valExternref = 0x6f
)

// External kinds of imports and exports.
const (
	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
	kindTag    = 4
)

const pageSize = 65536

var header = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "data count", "tag"}

func sectionName(id byte) string {
	if int(id) < len(sectionNames) {
		return sectionNames[id]
	}
	return fmt.Sprintf("unknown (id %d)", id)
}

// order is the place of a non-custom section in a binary (5.5.2): by id,
// but for data count (between element and code) and tag (between memory
// and global).
func order(id byte) int {
	switch id {
	case secDataCount:
		return 2*secElement + 1
	case secTag:
		return 2*secMemory + 1
	}
	return 2 * int(id)
}

// A ParseError says where a binary is malformed.
type ParseError struct {
	Section string // "" for the header and the section headers
	Offset  int    // of the byte where reading failed, from the start of the binary
	Msg     string
}

func (e *ParseError) Error() string {
	if e.Section == "" {
		return fmt.Sprintf("wasm: offset %d: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("wasm: %s section: offset %d: %s", e.Section, e.Offset, e.Msg)
}

// section is one section of the binary as read: its id and its contents
// (without the id and size), which point into the binary.
type section struct {
	id      byte
	offset  int // of the contents in the binary
	content []byte
}

// limits of a memory.
type limits struct {
	flags    byte // bit 0: max present; bit 1: shared; bit 2: memory64
	min, max uint64
}

// global is one global the module defines.
type global struct {
	typ     byte
	mutable bool
	init    []byte // the constant expression, with its end
}

// export of the module.
type export struct {
	name  string
	kind  byte
	index uint32
}

// dataSegment of the data section.
type dataSegment struct {
	active bool
	offset []byte // the offset expression of an active segment, with its end
	init   []byte
}

// Module is a parsed binary: its sections, and what the passes need of
// them.
type Module struct {
	raw      []byte
	sections []section

	importedFuncs, importedGlobals, importedMemories uint32
	importedMemoryMin                                uint64 // the largest minimum of an imported memory
	memories                                         []limits
	globals                                          []global // defined ones, in index order after the imported
	exports                                          []export
	hasStart                                         bool
	data                                             []dataSegment
}

// Limits on what a module may declare, far above what a real module needs
// and low enough that a hostile binary cannot make Parse allocate much.
const (
	maxItems = 1 << 20 // entries of one vector
	maxName  = 1 << 16 // bytes of one name
)

// reader reads the binary format from b, starting at b's offset base in the
// binary, and records the first error.
type reader struct {
	b       []byte
	pos     int
	base    int
	section string
	err     error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = &ParseError{Section: r.section, Offset: r.base + r.pos, Msg: fmt.Sprintf(format, args...)}
	}
}

func (r *reader) done() bool { return r.err != nil || r.pos >= len(r.b) }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.pos) {
		r.fail("length %d runs past the end (%d bytes left)", n, len(r.b)-r.pos)
		return nil
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

// uleb reads an unsigned LEB128 of at most bits bits, in the fewest
// bytes that can hold them: the unused bits of a last byte must be zero.
func (r *reader) uleb(bits uint) uint64 {
	var v uint64
	start := r.pos
	for shift := uint(0); ; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if bits-shift <= 7 { // the last byte there may be
			if c&0x80 != 0 || c>>(bits-shift) != 0 {
				r.pos = start
				r.fail("integer too large for %d bits", bits)
				return 0
			}
			return v | uint64(c)<<shift
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

// sleb reads a signed LEB128 of at most bits bits: the unused bits of a
// last byte must copy the sign.
func (r *reader) sleb(bits uint) int64 {
	var v int64
	start := r.pos
	for shift := uint(0); ; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		p := c & 0x7f
		if bits-shift <= 7 { // the last byte there may be
			mask := byte(0x7f) &^ (1<<(bits-shift-1) - 1) // the sign bit and those above it
			if c&0x80 != 0 || p&mask != 0 && p&mask != mask {
				r.pos = start
				r.fail("integer too large for %d bits", bits)
				return 0
			}
		}
		v |= int64(p) << shift
		if c&0x80 == 0 {
			if shift+7 < 64 && p&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v
		}
	}
}

func (r *reader) u32() uint32 { return uint32(r.uleb(32)) }

// count reads a vector length, bounded by maxItems and by the bytes left
// (each item takes at least min bytes).
func (r *reader) count(what string, min int) uint32 {
	start := r.pos
	n := r.u32()
	if r.err != nil {
		return 0
	}
	if n > maxItems || uint64(n)*uint64(min) > uint64(len(r.b)-r.pos) {
		r.pos = start
		r.fail("%d %s: more than the section can hold", n, what)
		return 0
	}
	return n
}

func (r *reader) name() string {
	n := r.u32()
	if r.err == nil && n > maxName {
		r.fail("name of %d bytes", n)
		return ""
	}
	b := r.bytes(uint64(n))
	if r.err == nil && !utf8.Valid(b) {
		r.fail("name is not UTF-8")
	}
	return string(b)
}

func (r *reader) limits() limits {
	var l limits
	l.flags = r.byte()
	if r.err != nil {
		return l
	}
	if l.flags&^7 != 0 {
		r.fail("limits flags 0x%x", l.flags)
		return l
	}
	bits := uint(32)
	if l.flags&4 != 0 {
		bits = 64
	}
	l.min = r.uleb(bits)
	if l.flags&1 != 0 {
		l.max = r.uleb(bits)
		if r.err == nil && l.max < l.min {
			r.fail("limits: maximum %d below minimum %d", l.max, l.min)
		}
	}
	return l
}

func (r *reader) tableType() {
	if t := r.byte(); r.err == nil && t != valFuncref && t != valExternref {
		r.fail("table element type 0x%x", t)
	}
	r.limits()
}

func validValType(t byte) bool {
	switch t {
	case valI32, valI64, valF32, valF64, valV128, valFuncref, valExternref:
		return true
	}
	return false
}

func (r *reader) globalType() (byte, bool) {
	t := r.byte()
	mut := r.byte()
	if r.err == nil && !validValType(t) {
		r.fail("global value type 0x%x", t)
	}
	if r.err == nil && mut > 1 {
		r.fail("global mutability 0x%x", mut)
	}
	return t, mut == 1
}

// constExpr reads a constant expression through its end and returns it.
// Only the instructions a constant expression may hold are accepted
// (with the extended-constant arithmetic).
func (r *reader) constExpr() []byte {
	start := r.pos
	for n := 0; ; n++ {
		if n > 1024 {
			r.fail("constant expression longer than 1024 instructions")
			return nil
		}
		op := r.byte()
		switch op {
		case 0x0b: // end
			if r.err != nil {
				return nil
			}
			return r.b[start:r.pos]
		case 0x41: // i32.const
			r.sleb(32)
		case 0x42: // i64.const
			r.sleb(64)
		case 0x43: // f32.const
			r.bytes(4)
		case 0x44: // f64.const
			r.bytes(8)
		case 0x23, 0xd2: // global.get, ref.func
			r.u32()
		case 0xd0: // ref.null
			if t := r.byte(); r.err == nil && t != valFuncref && t != valExternref {
				r.fail("ref.null of type 0x%x", t)
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // i32/i64 add, sub, mul
		case 0xfd: // v128.const
			if sub := r.u32(); r.err == nil && sub != 12 {
				r.fail("instruction 0xfd %d in a constant expression", sub)
			}
			r.bytes(16)
		default:
			if r.err == nil {
				r.pos--
				r.fail("instruction 0x%02x in a constant expression", op)
			}
		}
		if r.err != nil {
			return nil
		}
	}
}

// Parse reads a binary module. It checks the structure of what it
// decodes; it does not validate the module (types, code): a module Parse
// accepts may still fail to compile.
func Parse(b []byte) (*Module, error) {
	if len(b) < len(header) || !bytes.Equal(b[:4], header[:4]) {
		return nil, &ParseError{Msg: "not a WebAssembly binary (no \\0asm magic)"}
	}
	if !bytes.Equal(b[4:8], header[4:]) {
		return nil, &ParseError{Offset: 4, Msg: fmt.Sprintf("binary version %x, want 1 (a component or a future version)", b[4:8])}
	}
	m := &Module{raw: b}
	r := &reader{b: b, pos: len(header)}
	var last byte // the last non-custom section
	for !r.done() {
		at := r.pos
		id := r.byte()
		size := r.u32()
		content := r.bytes(uint64(size))
		if r.err != nil {
			return nil, r.err
		}
		if id > secTag {
			return nil, &ParseError{Offset: at, Msg: fmt.Sprintf("unknown section id %d", id)}
		}
		if id != secCustom {
			if last != 0 && order(id) <= order(last) {
				return nil, &ParseError{Offset: at, Msg: fmt.Sprintf("%s section after the %s section", sectionName(id), sectionName(last))}
			}
			last = id
		}
		s := section{id: id, offset: r.pos - len(content), content: content}
		m.sections = append(m.sections, s)
		if err := m.decode(s); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// decode reads what the passes need of one section.
func (m *Module) decode(s section) error {
	r := &reader{b: s.content, base: s.offset, section: sectionName(s.id)}
	switch s.id {
	case secCustom:
		r.name()
		return r.err
	case secImport:
		n := r.count("imports", 4)
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.name()
			r.name()
			switch kind := r.byte(); kind {
			case kindFunc:
				r.u32()
				m.importedFuncs++
			case kindTable:
				r.tableType()
			case kindMemory:
				m.importedMemoryMin = max(m.importedMemoryMin, r.limits().min)
				m.importedMemories++
			case kindGlobal:
				r.globalType()
				m.importedGlobals++
			case kindTag:
				r.byte()
				r.u32()
			default:
				if r.err == nil {
					r.pos--
					r.fail("import kind 0x%x", kind)
				}
			}
		}
	case secMemory:
		n := r.count("memories", 2)
		for i := uint32(0); i < n && r.err == nil; i++ {
			m.memories = append(m.memories, r.limits())
		}
	case secGlobal:
		n := r.count("globals", 3)
		for i := uint32(0); i < n && r.err == nil; i++ {
			t, mut := r.globalType()
			init := r.constExpr()
			m.globals = append(m.globals, global{typ: t, mutable: mut, init: init})
		}
	case secExport:
		n := r.count("exports", 3)
		seen := make(map[string]bool, n)
		for i := uint32(0); i < n && r.err == nil; i++ {
			e := export{name: r.name(), kind: r.byte(), index: r.u32()}
			if r.err == nil && e.kind > kindTag {
				r.fail("export kind 0x%x", e.kind)
			}
			if r.err == nil && seen[e.name] {
				r.fail("export %q twice", e.name)
			}
			seen[e.name] = true
			m.exports = append(m.exports, e)
		}
	case secStart:
		r.u32()
		m.hasStart = true
	case secData:
		n := r.count("data segments", 2)
		for i := uint32(0); i < n && r.err == nil; i++ {
			m.data = append(m.data, r.dataSegment())
		}
	case secDataCount:
		r.u32()
	case secType, secFunction, secTable, secElement, secCode, secTag:
		// Copied as they are, but a count no section could hold is refused
		// here: decoders that size their tables by it (wazero's) take
		// seconds to find the end.
		min := map[byte]int{secType: 3, secFunction: 1, secTable: 3, secElement: 2, secCode: 2, secTag: 2}[s.id]
		r.count("entries", min)
		return r.err
	default:
		return nil // copied as it is
	}
	if r.err == nil && r.pos != len(r.b) {
		r.fail("%d bytes after the section's contents", len(r.b)-r.pos)
	}
	return r.err
}

func (r *reader) dataSegment() dataSegment {
	var d dataSegment
	switch flags := r.u32(); flags {
	case 0: // active, memory 0
		d.active = true
		d.offset = r.constExpr()
	case 1: // passive
	case 2: // active, explicit memory
		d.active = true
		r.u32()
		d.offset = r.constExpr()
	default:
		if r.err == nil {
			r.fail("data segment flags %d", flags)
		}
	}
	n := r.u32()
	d.init = r.bytes(uint64(n))
	return d
}

// MemoryMinimum is the largest minimum size, in 64 KiB pages, of the
// memories the module defines or imports (0 when it has none): what
// instantiating it allocates at least.
func (m *Module) MemoryMinimum() uint64 {
	pages := m.importedMemoryMin
	for _, l := range m.memories {
		pages = max(pages, l.min)
	}
	return pages
}

// memory returns the limits of the module's memory 0, defined by it.
func (m *Module) memory() (limits, error) {
	if m.importedMemories > 0 {
		return limits{}, errors.New("wasm: the memory is imported: the host owns it, nothing to snapshot here")
	}
	switch {
	case len(m.memories) == 0:
		return limits{}, errors.New("wasm: the module has no memory")
	case len(m.memories) > 1:
		return limits{}, fmt.Errorf("wasm: %d memories: only one is supported", len(m.memories))
	case m.memories[0].flags&2 != 0:
		return limits{}, errors.New("wasm: the memory is shared (threads): not supported")
	case m.memories[0].flags&4 != 0:
		return limits{}, errors.New("wasm: the memory is 64-bit: not supported")
	}
	return m.memories[0], nil
}

// MutableGlobals returns the indices (in the global index space, imports
// first) of the mutable globals the module defines: the state a snapshot
// holds besides memory.
func (m *Module) MutableGlobals() []uint32 {
	var out []uint32
	for i, g := range m.globals {
		if g.mutable {
			out = append(out, m.importedGlobals+uint32(i))
		}
	}
	return out
}

// ExportsFunc says whether the module exports a function named name.
func (m *Module) ExportsFunc(name string) bool {
	for _, e := range m.exports {
		if e.kind == kindFunc && e.name == name {
			return true
		}
	}
	return false
}

// HasStart says whether the module has a start function.
func (m *Module) HasStart() bool { return m.hasStart }

// pagesFor is the number of pages that hold n bytes.
func pagesFor(n int) uint64 { return (uint64(n) + pageSize - 1) / pageSize }
