// Package wasmsnap rewrites WebAssembly binaries for snapshots in the way
// of Wizer: a module is initialized once, its linear memory and mutable
// globals are captured, and later instances start from that state instead
// of initializing again.
//
// It owns these passes over the binary format, and nothing else:
//
//   - [Instrument] exports the module's memory and each mutable global it
//     defines, under names of this package, so that the host can read them
//     once the module's initialization function returned.
//   - [Bake] writes a module whose global initializers hold captured values,
//     whose memory minimum covers the captured memory, whose data segments
//     are the captured memory (zero runs left out) or nothing (when the host
//     supplies the memory, as internal/wasmsnap/cowmem does), and which has
//     no start function.
//   - [Restorable] writes the instrumented module without data segments
//     and start function: one compilation that the host restores any
//     captured state into (memory it supplies, globals it sets).
//
// [Parse] reads outside input: every length is bounded by what is left of
// the binary, and errors name the section and the byte offset. The package
// decodes only the sections the passes need (imports, memory, globals,
// exports, start, data, data count); the others are copied as they are.
// It must not depend on a Wasm runtime: tests and benchmarks use wazero,
// the package does not.
package wasmsnap
