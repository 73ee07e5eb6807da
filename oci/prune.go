package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrBuildRunning is Prune's error while a build holds a lease on the store:
// its blobs are not named by the index yet.
var ErrBuildRunning = errors.New("a build is using the store: try again when it has ended")

// Usage measures the store's blobs: how many, their bytes, and those no box
// of the store references (what Prune would delete).
func (s *Store) Usage() (BlobUsage, error) {
	idx, err := s.readIndex()
	if err != nil {
		return BlobUsage{}, err
	}
	u, err := s.sweep(idx, false)
	if err == nil && s.leased() {
		u.Inaccessible = true
	}
	return u, err
}

// Prune deletes the blobs no box of the store references and reports what
// they took. A blob a box references (its manifest, config or a layer) is
// never deleted; while a build runs, nothing is (ErrBuildRunning).
func (s *Store) Prune() (BlobUsage, error) {
	unlock, err := s.lock()
	if err != nil {
		return BlobUsage{}, err
	}
	defer unlock()
	f, err := os.OpenFile(filepath.Join(s.dir, ".lease"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return BlobUsage{}, fmt.Errorf("pruning the store: %w", err)
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return BlobUsage{}, ErrBuildRunning
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	idx, err := s.readIndex()
	if err != nil {
		return BlobUsage{}, err
	}
	return s.sweep(idx, true)
}

// leased reports whether a build holds a lease on the store now.
func (s *Store) leased() bool {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lease"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
