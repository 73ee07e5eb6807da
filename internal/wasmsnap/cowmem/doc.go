// Package cowmem backs WebAssembly linear memories with private
// copy-on-write mappings of a memory image file: every instance starts
// with the image's contents, the operating system shares the pages no
// instance wrote, and an instance copies only the pages it writes. It is
// wazero's experimental.MemoryAllocator hook, for modules that
// wasmsnap.Bake baked with wasmsnap.HostMemory.
//
// Images from a store are read with Load, which checks their digest and
// keeps them where nothing can change them afterwards; Open maps a file as
// it is, for images this process wrote.
//
// Unix only: elsewhere Open fails with errors.ErrUnsupported and the
// caller bakes the memory into the module's data segments instead.
package cowmem
