package convert

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// loadIgnore reads the build context's ignore file with Docker's rules:
// <Dockerfile>.dockerignore next to the Dockerfile if there is one, else
// .dockerignore at the root of the context. Nil means nothing is ignored.
func loadIgnore(contextDir, dockerfile string) (*patternmatcher.PatternMatcher, error) {
	candidates := []string{dockerfile + ".dockerignore", filepath.Join(contextDir, ".dockerignore")}
	for _, name := range candidates {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return pm, nil
	}
	return nil, nil
}

// ignoringFS hides what the ignore file excludes from COPY, as if it were
// not in the context. A directory stays walkable when exceptions (!) may
// bring back something below it.
type ignoringFS struct {
	copySource
	pm *patternmatcher.PatternMatcher
	// base: the patterns match names relative to it (COPY --exclude
	// patterns are relative to each source); "" for the context's root.
	base string
}

func (f ignoringFS) ignored(name string, isDir bool) bool {
	if f.base != "" && f.base != "." {
		if name == f.base {
			return false
		}
		if !strings.HasPrefix(name, f.base+"/") {
			return false
		}
		name = name[len(f.base)+1:]
	}
	if name == "." {
		return false
	}
	m, err := f.pm.MatchesOrParentMatches(filepath.FromSlash(name))
	if err != nil || !m {
		return false
	}
	if isDir && f.pm.Exclusions() {
		for _, p := range f.pm.Patterns() {
			if p.Exclusion() && strings.HasPrefix(strings.TrimPrefix(p.String(), "!"), name+"/") {
				return false
			}
		}
	}
	return true
}

func (f ignoringFS) hide(name string, fi fs.FileInfo) error {
	if f.ignored(name, fi.IsDir()) {
		return &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return nil
}

func (f ignoringFS) Open(name string) (fs.File, error) {
	fi, err := f.copySource.Stat(name)
	if err != nil {
		return nil, err
	}
	if err := f.hide(name, fi); err != nil {
		return nil, err
	}
	return f.copySource.Open(name)
}

func (f ignoringFS) Stat(name string) (fs.FileInfo, error) {
	fi, err := f.copySource.Stat(name)
	if err != nil {
		return nil, err
	}
	return fi, f.hide(name, fi)
}

func (f ignoringFS) Lstat(name string) (fs.FileInfo, error) {
	fi, err := f.copySource.Lstat(name)
	if err != nil {
		return nil, err
	}
	return fi, f.hide(name, fi)
}

func (f ignoringFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := fs.ReadDir(f.copySource, name)
	if err != nil {
		return nil, err
	}
	out := ents[:0]
	for _, e := range ents {
		p := e.Name()
		if name != "." {
			p = name + "/" + p
		}
		if !f.ignored(p, e.IsDir()) {
			out = append(out, e)
		}
	}
	return out, nil
}
