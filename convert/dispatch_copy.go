package convert

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/wasmbox/wasmbox/runtime"
)

// dispatchCopy copies files of the build context into the box, with
// Docker's rules: a directory source copies its contents; several sources
// need a destination directory ending in "/"; a destination ending in "/"
// or naming an existing directory receives the sources by their names.
// The context is read through os.Root, so no symlink of it leads out.
func (s *stage) dispatchCopy(c *instructions.CopyCommand) error {
	root, err := os.OpenRoot(s.b.contextDir)
	if err != nil {
		return fmt.Errorf("COPY: opening the build context: %w", err)
	}
	defer root.Close()
	rfs := root.FS()
	var srcs []string
	for _, p := range c.SourcePaths {
		rel := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
		if rel == "" {
			rel = "."
		}
		if strings.ContainsAny(rel, "*?[") {
			matches, err := fs.Glob(rfs, rel)
			if err != nil {
				return fmt.Errorf("COPY %s: bad pattern: %w", p, err)
			}
			if len(matches) == 0 {
				return fmt.Errorf("COPY %s: no file of the build context matches", p)
			}
			srcs = append(srcs, matches...)
			continue
		}
		if _, err := fs.Stat(rfs, rel); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("COPY %s: not found in the build context", p)
			}
			return fmt.Errorf("COPY %s: %w", p, err)
		}
		srcs = append(srcs, rel)
	}
	dest := c.DestPath
	wantDir := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		dest = path.Join(orRoot(s.image.Config.WorkingDir), dest)
	}
	dest = path.Clean(dest)
	if len(srcs) > 1 && !wantDir {
		return fmt.Errorf("COPY: with more than one source the destination must be a directory ending in /, not %q", c.DestPath)
	}
	ov := s.overlay()
	if st, errno := ov.Stat(strings.TrimPrefix(dest, "/")); errno == 0 && st.Mode.IsDir() {
		wantDir = true
	}
	for _, src := range srcs {
		fi, err := fs.Stat(rfs, src)
		if err != nil {
			return fmt.Errorf("COPY %s: %w", src, err)
		}
		switch {
		case fi.IsDir():
			err = copyDir(ov, root, rfs, src, dest)
		case fi.Mode().IsRegular():
			target := dest
			if wantDir {
				target = path.Join(dest, path.Base(src))
			}
			err = copyFile(ov, rfs, src, target, fi)
		default:
			err = fmt.Errorf("not a regular file or directory")
		}
		if err != nil {
			return fmt.Errorf("COPY %s: %w", src, err)
		}
	}
	return s.commit(ov, fmt.Sprintf("COPY %s %s", strings.Join(c.SourcePaths, " "), c.DestPath))
}

func copyFile(ov *runtime.Overlay, rfs fs.FS, src, dst string, fi fs.FileInfo) error {
	data, err := fs.ReadFile(rfs, src)
	if err != nil {
		return err
	}
	if err := ov.MkdirAll(path.Dir(dst), 0o755); err != nil {
		return err
	}
	return ov.WriteFile(dst, data, modeBits(fi.Mode()), 0, 0, fi.ModTime())
}

func modeBits(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// copyDir copies the contents of the context directory src into dst,
// keeping symlinks as symlinks.
func copyDir(ov *runtime.Overlay, root *os.Root, rfs fs.FS, src, dst string) error {
	return fs.WalkDir(rfs, src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, src), "/")
		if src == "." {
			rel = p
		}
		target := path.Join(dst, rel)
		if rel == "." {
			target = dst
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := ov.MkdirAll(target, 0o755); err != nil {
				return err
			}
			if errno := ov.Chmod(strings.TrimPrefix(target, "/"), modeBits(fi.Mode())); errno != 0 {
				return &fs.PathError{Op: "chmod", Path: target, Err: errno}
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			link, err := root.Readlink(p)
			if err != nil {
				return err
			}
			if err := ov.MkdirAll(path.Dir(target), 0o755); err != nil {
				return err
			}
			rel := strings.TrimPrefix(target, "/")
			ov.Unlink(rel)
			if errno := ov.Symlink(link, rel); errno != 0 {
				return &fs.PathError{Op: "symlink", Path: target, Err: errno}
			}
			return nil
		case d.Type().IsRegular():
			return copyFile(ov, rfs, p, target, fi)
		}
		return fmt.Errorf("%s: not a regular file, directory or symlink", p)
	})
}
