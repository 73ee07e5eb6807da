//go:build unix

package main

import (
	"os"
	"syscall"
)

// peakRSS is the peak resident set size of an ended process, in bytes.
func peakRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return int64(ru.Maxrss) * 1024, true // kilobytes on Linux
}
