package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/engine"
)

// copySource is what COPY reads: the build context (through os.Root, so
// no symlink of it leads out) or the file system of another stage.
type copySource interface {
	fs.StatFS
	fs.ReadLinkFS
}

// copyOwner is what --chown and --chmod ask of the copied entries.
type copyOwner struct {
	uid, gid uint32
	mode     fs.FileMode // 0: keep the source's
}

// dispatchCopy copies files into the box, with Docker's rules: a
// directory source copies its contents; several sources need a
// destination directory ending in "/"; a destination ending in "/" or
// naming an existing directory receives the sources by their names.
func (s *stage) dispatchCopy(c *instructions.CopyCommand) error {
	return s.copy(copyReq{SourcesAndDest: c.SourcesAndDest, From: c.From, Chown: c.Chown, Chmod: c.Chmod,
		exclude: c.ExcludePatterns, parents: c.Parents, name: "COPY"})
}

// copyReq is a COPY or an ADD.
type copyReq struct {
	instructions.SourcesAndDest
	From, Chown, Chmod string
	name               string   // COPY or ADD
	unpack             bool     // ADD: local tar archives are extracted
	exclude            []string // --exclude patterns
	parents            bool     // --parents: keep the sources' directories
}

// copyPlan is what a COPY or ADD copies, and where.
type copyPlan struct {
	srcOf   func(p string) copySource // the source to read p from
	srcs    []string                  // source paths, patterns expanded
	inline  []instructions.SourceContent
	dest    string // absolute, clean
	wantDir bool   // dest is a directory receiving the sources by name
	own     copyOwner
	ctx     context.Context // the build's: ends the copy when done
}

func (s *stage) copy(c copyReq) error {
	src, where, srcKey, closeSrc, err := s.copySource(c.name, c.From)
	if err != nil {
		return err
	}
	defer closeSrc()
	_, ov := s.overlay()
	ov.SetCapacity(s.b.layerLimit())
	pl, err := s.planCopy(c, ov, src, where)
	if err != nil {
		return err
	}
	createdBy := fmt.Sprintf("%s %s %s", c.name, strings.Join(c.SourcePaths, " "), c.DestPath)
	h := sha256.New()
	for _, p := range pl.srcs {
		if err := hashSources(s.b.ctx, h, pl.srcOf(p), []string{p}); err != nil {
			return fmt.Errorf("%s: reading the sources: %w", c.name, err)
		}
	}
	for _, in := range pl.inline {
		fmt.Fprintf(h, "inline\x00%s\x00%d\x00%s", in.Path, len(in.Data), in.Data)
	}
	key := cacheKey(s.key, c.name, srcKey, joinLines(pl.srcs), pl.dest, strconv.FormatBool(pl.wantDir), strconv.FormatBool(c.parents),
		fmt.Sprint(pl.own.uid, pl.own.gid, uint32(pl.own.mode)), hex.EncodeToString(h.Sum(nil)))
	if hit, err := s.fromCache(key, createdBy); hit || err != nil {
		return err
	}
	for _, p := range pl.srcs {
		if err := c.copyOne(ov, pl, p); err != nil {
			if ov.Full() {
				return fmt.Errorf("%s %s: %w", c.name, p, s.b.layerFull())
			}
			return fmt.Errorf("%s %s: %w", c.name, p, err)
		}
	}
	for _, in := range pl.inline {
		if err := pl.writeInline(ov, in, s.b.opts.epoch); err != nil {
			return fmt.Errorf("%s <<%s: %w", c.name, in.Path, err)
		}
	}
	return s.commit(ov, createdBy, key)
}

// planCopy reads what c copies from src (named where in messages) and
// where to, into the stage's overlay ov, with Docker's rules for the
// destination.
func (s *stage) planCopy(c copyReq, ov engine.FS, src copySource, where string) (copyPlan, error) {
	pl := copyPlan{ctx: s.b.ctx}
	var err error
	if pl.srcOf, err = excluding(src, c.exclude); err != nil {
		return pl, fmt.Errorf("%s --exclude: %w", c.name, err)
	}
	if pl.srcs, err = c.sourcePaths(src, pl.srcOf, where); err != nil {
		return pl, err
	}
	pl.dest = c.DestPath
	pl.wantDir = strings.HasSuffix(pl.dest, "/") || pl.dest == "." || strings.HasSuffix(pl.dest, "/.")
	if !path.IsAbs(pl.dest) {
		pl.dest = path.Join(orRoot(s.image.Config.WorkingDir), pl.dest)
	}
	pl.dest = path.Clean(pl.dest)
	if pl.inline, err = s.inlineSources(c.name, c.SourceContents); err != nil {
		return pl, err
	}
	if c.parents && !pl.wantDir {
		return pl, fmt.Errorf("%s --parents: the destination must be a directory ending in /, not %q", c.name, c.DestPath)
	}
	if len(pl.srcs)+len(pl.inline) > 1 && !pl.wantDir {
		return pl, fmt.Errorf("%s: with more than one source the destination must be a directory ending in /, not %q", c.name, c.DestPath)
	}
	if pl.own, err = ownerFlags(ov, c.name, c.Chown, c.Chmod); err != nil {
		return pl, err
	}
	if st, errno := ov.Stat(strings.TrimPrefix(pl.dest, "/")); errno == 0 && st.Mode.IsDir() {
		pl.wantDir = true
	}
	return pl, nil
}

// excluding returns the source to read each source path p from: src
// itself, or with --exclude patterns, src hiding what they exclude below p.
func excluding(src copySource, exclude []string) (func(p string) copySource, error) {
	if len(exclude) == 0 {
		return func(string) copySource { return src }, nil
	}
	pm, err := patternmatcher.New(exclude)
	if err != nil {
		return nil, err
	}
	return func(p string) copySource {
		// The patterns apply below where p leads.
		base, err := ignoringFS{copySource: src}.realPath(p)
		if err != nil {
			base = p
		}
		if fi, err := src.Stat(p); err == nil && !fi.IsDir() {
			base = path.Dir(base)
		}
		return ignoringFS{copySource: src, pm: pm, base: base}
	}, nil
}

// sourcePaths are c's source paths in src, patterns expanded: a pattern
// that matches nothing copies nothing, as BuildKit allows (COPY
// pyproject.toml poetry.lock* ./); a path named in full must exist.
func (c copyReq) sourcePaths(src copySource, srcOf func(string) copySource, where string) ([]string, error) {
	var srcs []string
	for _, p := range c.SourcePaths {
		rel := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
		if rel == "" {
			rel = "."
		}
		if strings.ContainsAny(rel, "*?[") {
			matches, err := fs.Glob(src, rel)
			if err != nil {
				return nil, fmt.Errorf("%s %s: bad pattern: %w", c.name, p, err)
			}
			for _, m := range matches {
				if _, err := srcOf(m).Stat(m); err == nil {
					srcs = append(srcs, m)
				}
			}
			continue
		}
		if _, err := src.Stat(rel); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s %s: not found in %s", c.name, p, where)
			}
			return nil, fmt.Errorf("%s %s: %w", c.name, p, err)
		}
		srcs = append(srcs, rel)
	}
	return srcs, nil
}

// copyOne copies the source path p of the plan into ov: a directory's
// contents, a file (or with ADD, a local archive's contents).
func (c copyReq) copyOne(ov engine.FS, pl copyPlan, p string) error {
	src := pl.srcOf(p)
	fi, err := src.Stat(p)
	if err != nil {
		return err
	}
	dest := pl.dest
	if c.parents && p != "." {
		// --parents: the source's directories come along.
		if fi.IsDir() {
			dest = path.Join(dest, p)
		} else {
			dest = path.Join(dest, path.Dir(p))
		}
	}
	switch {
	case fi.IsDir():
		return copyDir(pl.ctx, ov, src, p, dest, pl.own)
	case fi.Mode().IsRegular():
		if c.unpack {
			if unpacked, err := unpackArchive(pl.ctx, ov, src, p, dest, pl.own); unpacked || err != nil {
				return err
			}
		}
		target := dest
		if pl.wantDir {
			target = path.Join(dest, path.Base(p))
		}
		return copyFile(ov, src, p, target, fi, pl.own)
	}
	return fmt.Errorf("not a regular file or directory")
}

// writeInline writes the here-document in to its place in ov.
func (pl copyPlan) writeInline(ov engine.FS, in instructions.SourceContent, mtime time.Time) error {
	target := pl.dest
	if pl.wantDir {
		target = path.Join(pl.dest, in.Path)
	}
	mode := pl.own.mode
	if mode == 0 {
		mode = 0o644
	}
	if err := ov.MkdirAll(path.Dir(target), 0o755); err != nil {
		return err
	}
	return ov.WriteFile(target, []byte(in.Data), mode, pl.own.uid, pl.own.gid, mtime)
}

// inlineSources are the here-documents of a COPY, their variables
// expanded (with quotes and escapes kept) unless the delimiter was quoted.
func (s *stage) inlineSources(name string, contents []instructions.SourceContent) ([]instructions.SourceContent, error) {
	out := make([]instructions.SourceContent, 0, len(contents))
	for _, in := range contents {
		if in.Expand {
			lex := shell.NewLex(s.b.escape)
			lex.RawQuotes, lex.RawEscapes = true, true
			data, _, err := lex.ProcessWord(in.Data, shell.EnvsFromSlice(s.expandEnv()))
			if err != nil {
				return nil, fmt.Errorf("%s <<%s: %w", name, in.Path, err)
			}
			in.Data = data
		}
		if in.Path == "" || strings.Contains(in.Path, "/") {
			return nil, fmt.Errorf("%s <<%s: not a file name", name, in.Path)
		}
		out = append(out, in)
	}
	return out, nil
}

// copySource opens what --from names: nothing is the build context, else
// a stage (by name or index) built earlier.
func (s *stage) copySource(name, from string) (src copySource, where, key string, close func(), err error) {
	if from == "" {
		root, err := os.OpenRoot(s.b.contextDir)
		if err != nil {
			return nil, "", "", nil, fmt.Errorf("%s: opening the build context: %w", name, err)
		}
		var src copySource = root.FS().(copySource)
		if s.b.ignore != nil {
			src = ignoringFS{copySource: src, pm: s.b.ignore}
		}
		return src, "the build context", "context", func() { root.Close() }, nil
	}
	st, err := s.b.stageRef(from)
	if err != nil {
		return nil, "", "", nil, fmt.Errorf("%s --from=%s: %w", name, from, err)
	}
	var tree fsimage.Tree = fsimage.Stack()
	if len(st.trees) > 0 {
		tree = fsimage.Stack(st.trees...)
	}
	return treeSource{fsimage.FS(tree), tree}, "stage " + from, st.key, func() {}, nil
}

// ownerFlags reads --chown and --chmod of a COPY or ADD.
func ownerFlags(ov engine.FS, name, chown, chmod string) (copyOwner, error) {
	var own copyOwner
	if chown != "" {
		own.uid, own.gid = chownOwner(ov, chown)
	}
	if chmod != "" {
		m, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return own, fmt.Errorf("%s --chmod=%s: want an octal mode such as 755", name, chmod)
		}
		own.mode = fsimage.GoMode(uint32(m))
	}
	return own, nil
}

func (own copyOwner) modeOf(fi fs.FileInfo) fs.FileMode { return own.modeOr(fi.Mode()) }

func modeBits(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}
