//go:build !unix && !windows

package flock

import "os"

// No file locking on this system: a home must not be shared by
// concurrent wasmbox processes.
func lock(*os.File, bool, bool) error { return nil }

func unlock(*os.File) error { return nil }
