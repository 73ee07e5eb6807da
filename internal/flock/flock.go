// Package flock locks files between processes: the store, the build
// cache and the test fixtures are shared by every wasmbox process of a
// home. One place holds the per-OS calls (flock(2) on Unix, LockFileEx
// on Windows); elsewhere locking does nothing.
package flock

import (
	"errors"
	"os"
)

// ErrLocked is what TryLock returns when another holder has the lock.
var ErrLocked = errors.New("the file is locked by another process")

// Lock takes an exclusive lock on f, waiting for other holders.
func Lock(f *os.File) error { return lock(f, true, true) }

// RLock takes a shared lock on f, waiting for an exclusive holder.
func RLock(f *os.File) error { return lock(f, false, true) }

// TryLock takes an exclusive lock on f if nobody holds one, else returns
// ErrLocked.
func TryLock(f *os.File) error { return lock(f, true, false) }

// Unlock releases the lock on f (closing f releases it too).
func Unlock(f *os.File) error { return unlock(f) }
