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

	"github.com/wasmbox/wasmbox/fsimage"
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
// not in the context (Docker does not send it): a symlink whose target is
// hidden dangles, whether it names the hidden entry or a directory above
// it. Names are resolved by fsimage.Walk over the unhidden entries, so the
// links of the source are followed inside its root only; what is then
// opened is the real path, free of links. A directory stays walkable when
// exceptions (!) may bring back something below it.
type ignoringFS struct {
	copySource
	pm *patternmatcher.PatternMatcher // nil: nothing is hidden
	// base: the patterns match names relative to it (COPY --exclude
	// patterns are relative to each source); "" for the context's root.
	// It is a real path (see realPath).
	base string
}

func (f ignoringFS) ignored(name string, isDir bool) bool {
	if f.pm == nil {
		return false
	}
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

// srcEntry is an entry of the source met by the walk: its real path and
// what Lstat says of it (nil for the root).
type srcEntry struct {
	path string
	fi   fs.FileInfo
}

// ignoreWalker walks the source as fsimage.Walk needs, hidden entries
// missing.
type ignoreWalker struct{ f ignoringFS }

func (w ignoreWalker) Root() srcEntry { return srcEntry{path: "."} }

func (w ignoreWalker) Lookup(dir srcEntry, name string) (srcEntry, bool) {
	p := name
	if dir.path != "." {
		p = dir.path + "/" + name
	}
	fi, err := w.f.copySource.Lstat(p)
	if err != nil || w.f.ignored(p, fi.IsDir()) {
		return srcEntry{path: p}, false
	}
	return srcEntry{path: p, fi: fi}, true
}

func (w ignoreWalker) IsDir(e srcEntry) bool { return e.fi == nil || e.fi.IsDir() }

func (w ignoreWalker) Link(e srcEntry) (string, bool) {
	if e.fi == nil || e.fi.Mode()&fs.ModeSymlink == 0 {
		return "", false
	}
	target, err := w.f.copySource.ReadLink(e.path)
	if err != nil {
		return "", true // an empty target: the walk reports it missing
	}
	return target, true
}

// resolve is where name leads, links followed in every element and in
// the last one too when follow is set.
func (f ignoringFS) resolve(op, name string, follow bool) (srcEntry, error) {
	if !fs.ValidPath(name) {
		return srcEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	w, err := fsimage.Walk[srcEntry](ignoreWalker{f}, name, follow)
	if err == nil && !w.Found {
		err = fs.ErrNotExist
	}
	if err != nil {
		return srcEntry{}, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if w.Node.fi == nil {
		fi, err := f.copySource.Stat(".")
		if err != nil {
			return srcEntry{}, err
		}
		w.Node.fi = fi
	}
	return w.Node, nil
}

// realPath is the path name leads to, free of links.
func (f ignoringFS) realPath(name string) (string, error) {
	e, err := f.resolve("stat", name, true)
	return e.path, err
}

func (f ignoringFS) Open(name string) (fs.File, error) {
	e, err := f.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	return f.copySource.Open(e.path)
}

func (f ignoringFS) Stat(name string) (fs.FileInfo, error) {
	e, err := f.resolve("stat", name, true)
	return e.fi, err
}

func (f ignoringFS) Lstat(name string) (fs.FileInfo, error) {
	e, err := f.resolve("lstat", name, false)
	return e.fi, err
}

func (f ignoringFS) ReadLink(name string) (string, error) {
	e, err := f.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	return f.copySource.ReadLink(e.path)
}

func (f ignoringFS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	ents, err := fs.ReadDir(f.copySource, e.path)
	if err != nil {
		return nil, err
	}
	out := ents[:0]
	for _, d := range ents {
		p := d.Name()
		if e.path != "." {
			p = e.path + "/" + p
		}
		if !f.ignored(p, d.IsDir()) {
			out = append(out, d)
		}
	}
	return out, nil
}
