package fsimage

import (
	"fmt"
	"io"
	"io/fs"
	"slices"
)

// Stack returns the merged view of layers, layers[0] at the bottom, the way
// an overlay file system shows them:
//
//   - the topmost layer holding a path decides what it is; an upper
//     directory over a lower directory merges their children, with the
//     upper directory's metadata;
//   - a whiteout at P in layer i hides P and everything below it in the
//     layers beneath i;
//   - an opaque directory at P in layer i hides everything below P in the
//     layers beneath i (layer i's own entries under P remain);
//   - an upper entry that is not a directory hides a lower directory's
//     subtree.
//
// The result is a flattened tree: Lookup and Children never return
// whiteouts, and Opaque is always false in the entries they return, so a
// Stack used as a layer of another Stack hides nothing beneath it. Content
// of a hard link resolves in the layer the hard link comes from, even when
// an upper layer replaced or removed its target.
//
// Each layer must be well formed: every entry's parent directory exists in
// the same layer, as Open and the Writer guarantee.
func Stack(layers ...Tree) Tree {
	return &stack{layers: slices.Clone(layers)}
}

type stack struct {
	layers []Tree
}

// find returns the visible entry at p and the layer it comes from.
func (s *stack) find(p string) (Entry, int, bool) {
	for i := len(s.layers) - 1; i >= 0; i-- {
		l := s.layers[i]
		if e, ok := l.Lookup(p); ok {
			if e.Type == TypeWhiteout {
				return Entry{}, 0, false
			}
			e.Opaque = false
			return e, i, true
		}
		if i > 0 && hidesBelow(l, p) {
			return Entry{}, 0, false
		}
	}
	return Entry{}, 0, false
}

// hidesBelow reports whether layer l hides p from the layers beneath it
// through a proper ancestor of p: a whiteout or other non-directory, or an
// opaque directory.
func hidesBelow(l Tree, p string) bool {
	if p == "." {
		return false
	}
	a := "."
	for {
		e, ok := l.Lookup(a)
		if !ok {
			return false // and so are a's descendants, in a well-formed layer
		}
		if e.Type != TypeDir || e.Opaque {
			return true
		}
		i := len(a) + 1
		if a == "." {
			i = 0
		}
		j := i
		for j < len(p) && p[j] != '/' {
			j++
		}
		if j >= len(p) {
			return false // a is p's parent
		}
		a = p[:j]
	}
}

func (s *stack) Lookup(p string) (Entry, bool) {
	e, _, ok := s.find(p)
	return e, ok
}

func (s *stack) Children(dir string) ([]Entry, error) {
	d, _, ok := s.find(dir)
	if !ok {
		return nil, pathErr("children", dir, fs.ErrNotExist)
	}
	if d.Type != TypeDir {
		return nil, pathErr("children", dir, ErrNotDir)
	}
	seen := make(map[string]bool)
	var out []Entry
	for i := len(s.layers) - 1; i >= 0; i-- {
		l := s.layers[i]
		e, ok := l.Lookup(dir)
		if ok && e.Type == TypeDir {
			kids, err := l.Children(dir)
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			for _, k := range kids {
				name := baseName(k.Path)
				if seen[name] {
					continue
				}
				seen[name] = true
				if k.Type != TypeWhiteout {
					k.Opaque = false
					out = append(out, k)
				}
			}
		}
		// (Nothing is beneath the bottom layer: hidesBelow walks every
		// ancestor of dir, which a walk down a deep tree cannot afford.)
		if ok && (e.Type != TypeDir || e.Opaque) || i > 0 && hidesBelow(l, dir) {
			break
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return comparePaths(a.Path, b.Path) })
	return out, nil
}

func (s *stack) Content(p string) (*io.SectionReader, error) {
	e, i, ok := s.find(p)
	if !ok {
		return nil, pathErr("content", p, fs.ErrNotExist)
	}
	if e.Type != TypeReg && e.Type != TypeHardlink {
		return nil, pathErr("content", p, errNotRegular)
	}
	return s.layers[i].Content(p)
}
