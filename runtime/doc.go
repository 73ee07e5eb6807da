// Package runtime runs the programs of a box on wazero, and is the library
// API for embedding the runner: a Runtime compiles modules once (and caches
// them on disk by digest) and runs Cmds on an Overlay, the box's file
// system: read-only fsimage layers plus a writable layer in memory that
// lives as long as the Overlay.
//
// It owns the sandbox boundary. Guests see the Overlay and nothing of the
// host: paths resolve inside the box's tree (symlinks included), no host
// directory is mounted, no host environment variable is passed. argv[0] is
// resolved through PATH inside the box; a Wasm module runs, a #! script
// runs its interpreter, a native program is refused (exit 126). Programs
// start other programs through the process ABI (shims/ABI.md) served by the
// host module wasmbox_proc.
//
// It must not know about the store or Dockerfiles (oci, convert), and it
// prints nothing: exit statuses come back as *ExitError.
package runtime
