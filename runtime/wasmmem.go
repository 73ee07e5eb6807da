package runtime

import "github.com/wasmbox/wasmbox/internal/wasmsnap"

// memoryMinimum checks the structure of a Wasm module before wazero sees
// it, and reads the minimum size, in 64 KiB pages, of the memory it
// defines or imports (0 when it has none). The module may come from the
// box: the check bounds every length and count against the bytes that hold
// them, which wazero does not (a 14-byte module claiming 100 million
// exports kept CompileModule busy for 13 s and 3.5 GB). The runner checks
// the minimum against Limits.Memory before instantiating, since wazero
// cannot take a refused first allocation. One reader of the format serves
// this and the snapshots (internal/wasmsnap).
func memoryMinimum(code []byte) (uint64, error) {
	m, err := wasmsnap.Parse(code)
	if err != nil {
		return 0, err
	}
	return m.MemoryMinimum(), nil
}
