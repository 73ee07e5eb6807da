package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"
)

// The build cache: each step that makes a layer (RUN, COPY, WORKDIR) has a
// key over the stage's key before it (which stands for every layer below),
// the instruction and what it reads: RUN its argv, environment, working
// directory, user and shell; COPY the names, modes, times and contents of
// its sources. A hit reuses the layer without running anything.

// cacheKey hashes the parts of a step.
func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fromCache applies the cached result of key to the stage, if there is one.
func (s *stage) fromCache(key, createdBy string) (bool, error) {
	if s.b.opts.noCache {
		return false, nil
	}
	layer, created, ok := s.b.store.CacheGet(key)
	if !ok {
		return false, nil
	}
	s.time = created
	if layer == nil {
		s.addEmptyHistory(createdBy)
	} else if err := s.addLayer(*layer, createdBy); err != nil {
		return false, err
	}
	s.key = key
	s.cached = true
	return true, nil
}

// hashSources feeds what COPY would read of paths into h.
func hashSources(ctx context.Context, h hash.Hash, src copySource, paths []string) error {
	for _, p := range paths {
		err := walkSource(ctx, src, p, func(v srcVisit) error {
			fi := v.fi
			fmt.Fprintf(h, "%s\x00%v\x00%d\x00%d\x00", v.name, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				io.WriteString(h, v.link)
			case fi.Mode().IsRegular():
				f, err := v.open()
				if err != nil {
					return err
				}
				_, err = io.Copy(h, f)
				f.Close()
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func joinLines(parts []string) string { return strings.Join(parts, "\n") }
