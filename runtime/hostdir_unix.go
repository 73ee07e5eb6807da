//go:build unix

package runtime

import "syscall"

// openNonblock opens host files without waiting (FIFOs).
const openNonblock = syscall.O_NONBLOCK
