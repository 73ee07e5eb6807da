package serve

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/wasmbox/wasmbox/runtime"
)

// maxCollectFiles bounds the files one run collects (globs included).
const maxCollectFiles = 1000

// boxPath checks a path of files or collect and makes it absolute: a box
// path (relative to dir when relative), never with a ".." element, never
// under one of the operator's mounts (files and collect reach the box's
// own file system only: a box path is never a host path).
func (s *Server) boxPath(p, dir string) (string, *RequestError) {
	if p == "" {
		return "", badRequest("an empty path")
	}
	if strings.ContainsRune(p, 0) {
		return "", badRequest("path %q holds a NUL byte", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", &RequestError{Status: 400, Code: "path_escape", Message: fmt.Sprintf("path %q: \"..\" is refused (paths name files of the box, from its root or the working directory)", p)}
		}
	}
	abs := p
	if !path.IsAbs(abs) {
		abs = path.Join(dir, abs)
	}
	abs = path.Clean(abs)
	if abs == "/" {
		return "", badRequest("path %q names the box's root, not a file", p)
	}
	for _, m := range s.opts.mounts {
		if abs == m.Target || strings.HasPrefix(abs, strings.TrimSuffix(m.Target, "/")+"/") {
			return "", &RequestError{Status: 400, Code: "path_escape", Message: fmt.Sprintf("path %q is under the mount %s: files and collect reach the box's own files only", p, m.Target)}
		}
	}
	return abs, nil
}

// fileData decodes a file of a request.
func fileData(name string, fc FileContent) ([]byte, fs.FileMode, *RequestError) {
	mode := fs.FileMode(0o644)
	if fc.Mode != nil {
		if *fc.Mode > 0o777 {
			return nil, 0, badRequest("file %s: mode %o: want permission bits (at most 0777)", name, *fc.Mode)
		}
		mode = fs.FileMode(*fc.Mode)
	}
	switch {
	case fc.Content != nil && fc.Base64 != nil:
		return nil, 0, badRequest("file %s: give content or base64, not both", name)
	case fc.Content != nil:
		return []byte(*fc.Content), mode, nil
	case fc.Base64 != nil:
		b, err := base64.StdEncoding.DecodeString(*fc.Base64)
		if err != nil {
			return nil, 0, badRequest("file %s: base64: %v", name, err)
		}
		return b, mode, nil
	}
	return nil, 0, badRequest("file %s: give content or base64", name)
}

// placeFiles writes the request's files into ov.
func (s *Server) placeFiles(ov *runtime.Overlay, files map[string]FileContent, dir string) *RequestError {
	for name, fc := range files {
		abs, rerr := s.boxPath(name, dir)
		if rerr != nil {
			return rerr
		}
		data, mode, rerr := fileData(name, fc)
		if rerr != nil {
			return rerr
		}
		if err := putFile(ov, abs, data, mode); err != nil {
			return &RequestError{Status: 400, Code: "file_error", Message: fmt.Sprintf("placing %s: %v", name, err)}
		}
	}
	return nil
}

// putFile writes a box file, making its parent directories.
func putFile(ov *runtime.Overlay, abs string, data []byte, mode fs.FileMode) error {
	if err := ov.MkdirAll(path.Dir(abs), 0o755); err != nil {
		return err
	}
	return ov.WriteFile(abs, data, mode)
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// checkCollect checks the collect patterns before a run.
func (s *Server) checkCollect(patterns []string, dir string) ([]string, *RequestError) {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		abs, rerr := s.boxPath(p, dir)
		if rerr != nil {
			return nil, rerr
		}
		if _, err := path.Match(abs, ""); err != nil {
			return nil, badRequest("collect %q: %v", p, err)
		}
		out = append(out, abs)
	}
	return out, nil
}

// collect reads the files patterns name (checked by checkCollect) after a
// run, at most the server's collect limit in bytes together. A glob is
// expanded over the box's directories (listDir).
func (s *Server) collect(ov *runtime.Overlay, patterns []string) []CollectedFile {
	out := []CollectedFile{}
	var paths []string
	seen := map[string]bool{}
	for _, p := range patterns {
		matches := []string{p}
		if hasMeta(p) {
			matches = glob(func(dir string) ([]dirEntry, error) { return listDir(ov, dir) }, p)
		}
		for _, m := range matches {
			if !seen[m] && s.mountFree(m) {
				seen[m] = true
				paths = append(paths, m)
			}
		}
	}
	budget := s.opts.collectBytes
	for i, p := range paths {
		if i == maxCollectFiles {
			out = append(out, CollectedFile{Path: p, Error: fmt.Sprintf("more than %d files: the rest are not collected", maxCollectFiles)})
			break
		}
		data, err := ov.ReadFile(p)
		switch {
		case err != nil:
			out = append(out, CollectedFile{Path: p, Error: describe(err)})
		case int64(len(data)) > budget:
			out = append(out, CollectedFile{Path: p, Size: int64(len(data)), Error: fmt.Sprintf("over the collect limit of %d bytes per run", s.opts.collectBytes)})
		default:
			budget -= int64(len(data))
			out = append(out, CollectedFile{Path: p, Size: int64(len(data)), Base64: base64.StdEncoding.EncodeToString(data)})
		}
	}
	return out
}

func (s *Server) mountFree(abs string) bool {
	_, rerr := s.boxPath(abs, "/")
	return rerr == nil
}

// describe says why a file could not be read, without the host's words.
func describe(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// glob expands an absolute pattern of path.Match elements over the box's
// directories, which list lists; it matches files (the last element) in
// directories (the others), sorted per level. A directory that cannot be
// listed has no match.
func glob(list func(dir string) ([]dirEntry, error), pattern string) []string {
	var out []string
	var expand func(dir string, rest []string)
	expand = func(dir string, rest []string) {
		if len(out) > maxCollectFiles {
			return
		}
		if len(rest) == 0 {
			out = append(out, dir)
			return
		}
		// Each element is matched against a listing, a literal one
		// too: a glob names only what is there.
		el := rest[0]
		ents, _ := list(dir)
		for _, e := range ents {
			if ok, _ := path.Match(el, e.name); !ok || e.isDir != (len(rest) > 1) {
				continue
			}
			expand(path.Join(dir, e.name), rest[1:])
		}
	}
	expand("/", strings.Split(strings.TrimPrefix(pattern, "/"), "/"))
	return out
}
