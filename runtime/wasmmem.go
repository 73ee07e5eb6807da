package runtime

import "errors"

// errMalformed is what memoryMinimum says of bytes it cannot read; wazero
// then rejects the module with its own, better message.
var errMalformed = errors.New("malformed module")

// memoryMinimum reads the minimum size, in 64 KiB pages, of the memory a
// Wasm module defines or imports (0 when it has none), from its memory
// and import sections. It reads only what it needs and checks every
// length: the module comes from the box. The runner checks the minimum
// against Limits.Memory before instantiating, since wazero cannot take a
// refused first allocation.
func memoryMinimum(code []byte) (uint64, error) {
	if len(code) < 8 || string(code[:4]) != "\x00asm" {
		return 0, errMalformed
	}
	r := wasmReader{b: code[8:]}
	var pages uint64
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return 0, err
		}
		size, err := r.u32()
		if err != nil {
			return 0, err
		}
		body, err := r.take(int(size))
		if err != nil {
			return 0, err
		}
		s := wasmReader{b: body}
		switch id {
		case 2: // imports
			n, err := s.u32()
			if err != nil {
				return 0, err
			}
			for i := uint32(0); i < n; i++ {
				for j := 0; j < 2; j++ { // module and field names
					l, err := s.u32()
					if err != nil {
						return 0, err
					}
					if _, err := s.take(int(l)); err != nil {
						return 0, err
					}
				}
				kind, err := s.byte()
				if err != nil {
					return 0, err
				}
				switch kind {
				case 0: // func: type index
					_, err = s.u32()
				case 1: // table: reftype, limits
					if _, err = s.byte(); err == nil {
						_, err = s.limits()
					}
				case 2: // memory
					var min uint64
					if min, err = s.limits(); err == nil {
						pages = max(pages, min)
					}
				case 3: // global: valtype, mutability
					if _, err = s.byte(); err == nil {
						_, err = s.byte()
					}
				default:
					return 0, errMalformed
				}
				if err != nil {
					return 0, err
				}
			}
		case 5: // memories
			n, err := s.u32()
			if err != nil {
				return 0, err
			}
			for i := uint32(0); i < n; i++ {
				min, err := s.limits()
				if err != nil {
					return 0, err
				}
				pages = max(pages, min)
			}
			return pages, nil // imports come before memories
		}
	}
	return pages, nil
}

type wasmReader struct{ b []byte }

func (r *wasmReader) done() bool { return len(r.b) == 0 }

func (r *wasmReader) byte() (byte, error) {
	if len(r.b) == 0 {
		return 0, errMalformed
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *wasmReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b) {
		return nil, errMalformed
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out, nil
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *wasmReader) u32() (uint32, error) {
	v, err := r.uleb(32)
	return uint32(v), err
}

func (r *wasmReader) uleb(bits uint) (uint64, error) {
	var v uint64
	for shift := uint(0); shift < bits+7; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if bits < 64 && v>>bits != 0 {
				return 0, errMalformed
			}
			return v, nil
		}
	}
	return 0, errMalformed
}

// limits reads a limits entry (flags, min[, max]) and returns min; the
// 64-bit memory form reads a 64-bit minimum.
func (r *wasmReader) limits() (uint64, error) {
	flags, err := r.byte()
	if err != nil {
		return 0, err
	}
	bits := uint(32)
	if flags&0x04 != 0 {
		bits = 64
	}
	min, err := r.uleb(bits)
	if err != nil {
		return 0, err
	}
	if flags&0x01 != 0 {
		if _, err := r.uleb(bits); err != nil {
			return 0, err
		}
	}
	return min, nil
}
