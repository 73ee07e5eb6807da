package oci

import "errors"

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
	var u BlobUsage
	err = s.unleased(func() error {
		idx, err := s.readIndex()
		if err != nil {
			return err
		}
		u, err = s.sweep(idx, true)
		return err
	})
	return u, err
}

// leased reports whether a build holds a lease on the store now.
func (s *Store) leased() bool {
	return errors.Is(s.unleased(func() error { return nil }), ErrBuildRunning)
}
