package convert

import (
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

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/runtime"
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

func (s *stage) copy(c copyReq) error {
	src, where, srcKey, closeSrc, err := s.copySource(c.name, c.From)
	if err != nil {
		return err
	}
	defer closeSrc()
	// --exclude patterns match below each source: srcOf(p) hides what
	// they exclude under the source p.
	srcOf := func(string) copySource { return src }
	if len(c.exclude) > 0 {
		pm, err := patternmatcher.New(c.exclude)
		if err != nil {
			return fmt.Errorf("%s --exclude: %w", c.name, err)
		}
		all := src
		srcOf = func(p string) copySource {
			// The patterns apply below where p leads.
			base, err := ignoringFS{copySource: all}.realPath(p)
			if err != nil {
				base = p
			}
			if fi, err := all.Stat(p); err == nil && !fi.IsDir() {
				base = path.Dir(base)
			}
			return ignoringFS{copySource: all, pm: pm, base: base}
		}
	}
	var srcs []string
	for _, p := range c.SourcePaths {
		rel := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
		if rel == "" {
			rel = "."
		}
		if strings.ContainsAny(rel, "*?[") {
			matches, err := fs.Glob(src, rel)
			if err != nil {
				return fmt.Errorf("%s %s: bad pattern: %w", c.name, p, err)
			}
			// A pattern that matches nothing copies nothing, as BuildKit
			// allows (pyproject.toml poetry.lock* ./).
			for _, m := range matches {
				if _, err := srcOf(m).Stat(m); err == nil {
					srcs = append(srcs, m)
				}
			}
			continue
		}
		if _, err := src.Stat(rel); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s %s: not found in %s", c.name, p, where)
			}
			return fmt.Errorf("%s %s: %w", c.name, p, err)
		}
		srcs = append(srcs, rel)
	}
	dest := c.DestPath
	wantDir := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		dest = path.Join(orRoot(s.image.Config.WorkingDir), dest)
	}
	dest = path.Clean(dest)
	inline, err := s.inlineSources(c.name, c.SourceContents)
	if err != nil {
		return err
	}
	if c.parents && !wantDir {
		return fmt.Errorf("%s --parents: the destination must be a directory ending in /, not %q", c.name, c.DestPath)
	}
	if len(srcs)+len(inline) > 1 && !wantDir {
		return fmt.Errorf("%s: with more than one source the destination must be a directory ending in /, not %q", c.name, c.DestPath)
	}
	ov := s.overlay()
	own, err := ownerFlags(ov, c.name, c.Chown, c.Chmod)
	if err != nil {
		return err
	}
	if st, errno := ov.Stat(strings.TrimPrefix(dest, "/")); errno == 0 && st.Mode.IsDir() {
		wantDir = true
	}
	createdBy := fmt.Sprintf("%s %s %s", c.name, strings.Join(c.SourcePaths, " "), c.DestPath)
	h := sha256.New()
	for _, p := range srcs {
		if err := hashSources(s.b.ctx, h, srcOf(p), []string{p}); err != nil {
			return fmt.Errorf("%s: reading the sources: %w", c.name, err)
		}
	}
	for _, in := range inline {
		fmt.Fprintf(h, "inline\x00%s\x00%d\x00%s", in.Path, len(in.Data), in.Data)
	}
	key := cacheKey(s.key, c.name, srcKey, joinLines(srcs), dest, strconv.FormatBool(wantDir), strconv.FormatBool(c.parents),
		fmt.Sprint(own.uid, own.gid, uint32(own.mode)), hex.EncodeToString(h.Sum(nil)))
	if hit, err := s.fromCache(key, createdBy); hit || err != nil {
		return err
	}
	for _, p := range srcs {
		src := srcOf(p)
		fi, err := src.Stat(p)
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.name, p, err)
		}
		destFor := dest
		if c.parents && p != "." {
			// --parents: the source's directories come along.
			if fi.IsDir() {
				destFor = path.Join(dest, p)
			} else {
				destFor = path.Join(dest, path.Dir(p))
			}
		}
		switch {
		case fi.IsDir():
			err = copyDir(s.b.ctx, ov, src, p, destFor, own)
		case fi.Mode().IsRegular():
			var unpacked bool
			if c.unpack {
				unpacked, err = unpackArchive(s.b.ctx, ov, src, p, destFor, own)
				if unpacked || err != nil {
					break
				}
			}
			target := destFor
			if wantDir {
				target = path.Join(destFor, path.Base(p))
			}
			err = copyFile(ov, src, p, target, fi, own)
		default:
			err = fmt.Errorf("not a regular file or directory")
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.name, p, err)
		}
	}
	for _, in := range inline {
		target := dest
		if wantDir {
			target = path.Join(dest, in.Path)
		}
		mode := own.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := ov.MkdirAll(path.Dir(target), 0o755); err != nil {
			return fmt.Errorf("%s <<%s: %w", c.name, in.Path, err)
		}
		if err := ov.WriteFile(target, []byte(in.Data), mode, own.uid, own.gid, s.b.opts.epoch); err != nil {
			return fmt.Errorf("%s <<%s: %w", c.name, in.Path, err)
		}
	}
	return s.commit(ov, createdBy, key)
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
func ownerFlags(ov *runtime.Overlay, name, chown, chmod string) (copyOwner, error) {
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
