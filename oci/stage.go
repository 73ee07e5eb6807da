package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/internal/flock"
)

// A stage holds the blobs of a pull or a load in a private directory of
// the store until every one is in and checked; commit then moves them into
// place. Until then the store is untouched, and close removes what a
// failed transfer left.
type stage struct {
	s     *Store
	dir   string
	lock  *os.File
	blobs map[digest.Digest]string // checked blob -> its file in dir
	order []digest.Digest
}

const stagePrefix = ".stage-"

func (s *Store) newStage() (*stage, error) {
	blobs := filepath.Join(s.dir, "blobs")
	s.removeStaleStages()
	dir, err := os.MkdirTemp(blobs, stagePrefix)
	if err != nil {
		return nil, fmt.Errorf("making a staging directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		err = flock.Lock(lock)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("making a staging directory: %w", err)
	}
	return &stage{s: s, dir: dir, lock: lock, blobs: map[digest.Digest]string{}}, nil
}

// removeStaleStages removes what transfers killed before they could clean
// up left: staging directories whose lock nobody holds, a minute old.
func (s *Store) removeStaleStages() {
	blobs := filepath.Join(s.dir, "blobs")
	ents, err := os.ReadDir(blobs)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagePrefix) {
			continue
		}
		dir := filepath.Join(blobs, e.Name())
		info, err := os.Stat(filepath.Join(dir, ".lock"))
		if err != nil || time.Since(info.ModTime()) < time.Minute {
			continue
		}
		f, err := os.Open(filepath.Join(dir, ".lock"))
		if err != nil {
			continue
		}
		if flock.TryLock(f) == nil {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

// create makes a new file in the stage, for a blob not yet checked.
func (st *stage) create() (*os.File, error) {
	return os.CreateTemp(st.dir, "blob-")
}

// add records that the file path holds the blob d, checked.
func (st *stage) add(d digest.Digest, path string) {
	if _, ok := st.blobs[d]; !ok {
		st.order = append(st.order, d)
	}
	st.blobs[d] = path
}

// has reports whether d is staged or already in the store.
func (st *stage) has(d digest.Digest) bool {
	_, ok := st.blobs[d]
	return ok || st.s.HasBlob(d)
}

// write stages data, whose digest it computes.
func (st *stage) write(mediaType string, data []byte) (ocispec.Descriptor, error) {
	d := digest.FromBytes(data)
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
	if st.has(d) {
		return desc, nil
	}
	f, err := st.create()
	if err != nil {
		return desc, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return desc, fmt.Errorf("staging blob %s: %w", d, err)
	}
	st.add(d, f.Name())
	return desc, nil
}

// commit moves the staged blobs into the store. Callers hold a lease, so
// that no collection removes them before they are named.
func (st *stage) commit() error {
	for _, d := range st.order {
		if st.s.HasBlob(d) {
			continue
		}
		if err := os.Rename(st.blobs[d], st.s.BlobPath(d)); err != nil {
			return fmt.Errorf("storing blob %s: %w", d, err)
		}
	}
	return nil
}

// close removes the stage and whatever is still in it.
func (st *stage) close() error {
	err := os.RemoveAll(st.dir)
	flock.Unlock(st.lock)
	st.lock.Close()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the staging directory: %w", err)
	}
	return nil
}
