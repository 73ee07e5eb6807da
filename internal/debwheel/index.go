package debwheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// NewIndex serves the wheels in dir, as they are when it is called, as a
// PEP 503 "simple" package index (the HTML API pip, uv and poetry speak):
//
//	GET /simple/              every project
//	GET /simple/NAME/         its wheels: href /files/FILE#sha256=HEX, with
//	                          data-requires-python and (PEP 658, 714) the
//	                          hash of FILE.metadata
//	GET /files/FILE           the wheel
//	GET /files/FILE.metadata  its METADATA
//
// A project name that is not normalized (PEP 503) is redirected to the
// one that is; anything else is 404.
func NewIndex(dir string) (http.Handler, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.whl"))
	if err != nil {
		return nil, err
	}
	ix := &index{projects: map[string][]*indexFile{}, files: map[string]*indexFile{}}
	for _, p := range paths {
		f, err := readIndexFile(p)
		if err != nil {
			return nil, err
		}
		ix.projects[f.project] = append(ix.projects[f.project], f)
		ix.files[f.name] = f
	}
	return ix, nil
}

// ServeIndex starts NewIndex(dir) on a port of 127.0.0.1; its URL plus
// "/simple/" is the index URL. The caller closes it.
func ServeIndex(dir string) (*httptest.Server, error) {
	h, err := NewIndex(dir)
	if err != nil {
		return nil, err
	}
	return httptest.NewServer(h), nil
}

type index struct {
	projects map[string][]*indexFile
	files    map[string]*indexFile
}

type indexFile struct {
	name, project, sha256, requiresPython string
	data, metadata                        []byte
	metaSHA256                            string
}

// normalize is PEP 503's project name normalization.
func normalize(name string) string {
	return strings.ToLower(escapeRun.ReplaceAllString(name, "-"))
}

func readIndexFile(path string) (*indexFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	dist, _, ok := strings.Cut(name, "-")
	if !ok {
		return nil, fmt.Errorf("%s: not a wheel's name", path)
	}
	f := &indexFile{name: name, project: normalize(dist), data: data}
	sum := sha256.Sum256(data)
	f.sha256 = hex.EncodeToString(sum[:])
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, zf := range zr.File {
		dir, base, _ := strings.Cut(zf.Name, "/")
		if base != "METADATA" || !strings.HasSuffix(dir, ".dist-info") {
			continue
		}
		r, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		f.metadata, err = io.ReadAll(io.LimitReader(r, 16<<20))
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if f.metadata == nil {
		return nil, fmt.Errorf("%s: no .dist-info/METADATA", path)
	}
	msum := sha256.Sum256(f.metadata)
	f.metaSHA256 = hex.EncodeToString(msum[:])
	if header, _, err := splitMetadata(f.metadata); err == nil {
		f.requiresPython = headerValue(header, "Requires-Python")
	}
	return f, nil
}

func (ix *index) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/simple" || p == "/simple/":
		ix.serveRoot(w)
	case strings.HasPrefix(p, "/simple/"):
		name := strings.TrimSuffix(strings.TrimPrefix(p, "/simple/"), "/")
		if strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		if n := normalize(name); n != name || !strings.HasSuffix(p, "/") {
			http.Redirect(w, r, "/simple/"+n+"/", http.StatusMovedPermanently)
			return
		}
		ix.serveProject(w, r, name)
	case strings.HasPrefix(p, "/files/"):
		name := strings.TrimPrefix(p, "/files/")
		if meta, ok := strings.CutSuffix(name, ".metadata"); ok {
			if f := ix.files[meta]; f != nil {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Write(f.metadata)
				return
			}
		}
		f := ix.files[name]
		if f == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(f.data)))
		w.Write(f.data)
	default:
		http.NotFound(w, r)
	}
}

func (ix *index) serveRoot(w http.ResponseWriter) {
	var names []string
	for n := range ix.projects {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Simple index</title></head><body>\n")
	for _, n := range names {
		fmt.Fprintf(&b, "<a href=\"/simple/%s/\">%s</a>\n", html.EscapeString(n), html.EscapeString(n))
	}
	b.WriteString("</body></html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, b.String())
}

func (ix *index) serveProject(w http.ResponseWriter, r *http.Request, name string) {
	files := ix.projects[name]
	if len(files) == 0 {
		http.NotFound(w, r)
		return
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for %s</title></head><body>\n<h1>Links for %s</h1>\n", html.EscapeString(name), html.EscapeString(name))
	for _, f := range files {
		attrs := fmt.Sprintf(" data-dist-info-metadata=\"sha256=%s\" data-core-metadata=\"sha256=%s\"", f.metaSHA256, f.metaSHA256)
		if f.requiresPython != "" {
			attrs += fmt.Sprintf(" data-requires-python=\"%s\"", html.EscapeString(f.requiresPython))
		}
		fmt.Fprintf(&b, "<a href=\"/files/%s#sha256=%s\"%s>%s</a><br>\n", html.EscapeString(f.name), f.sha256, attrs, html.EscapeString(f.name))
	}
	b.WriteString("</body></html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, b.String())
}
