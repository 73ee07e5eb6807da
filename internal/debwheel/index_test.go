package debwheel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 3 {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(b)
}

func TestIndex(t *testing.T) {
	ents := base()
	ents[5].body = "Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 1.2\nRequires-Python: >=3.7, <4\n\n"
	d, err := readDist(demoControl, bytes.NewReader(tarOf(t, ents)), Pin{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := d.writeWheel(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ServeIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	data, _ := os.ReadFile(w.File)
	sum := sha256.Sum256(data)
	file := filepath.Base(w.File)

	code, body := get(t, srv.URL+"/simple/")
	if code != 200 || !strings.Contains(body, `<a href="/simple/demo-pkg/">demo-pkg</a>`) {
		t.Errorf("/simple/: %d %s", code, body)
	}
	code, body = get(t, srv.URL+"/simple/demo-pkg/")
	if code != 200 || !strings.Contains(body, `<a href="/files/`+file+`#sha256=`+hex.EncodeToString(sum[:])+`"`) || !strings.Contains(body, `data-requires-python="&gt;=3.7, &lt;4"`) {
		t.Errorf("/simple/demo-pkg/: %d %s", code, body)
	}
	if code, loc := get(t, srv.URL+"/simple/Demo_Pkg"); code != http.StatusMovedPermanently || loc != "/simple/demo-pkg/" {
		t.Errorf("/simple/Demo_Pkg: %d %s", code, loc)
	}
	if code, got := get(t, srv.URL+"/files/"+file); code != 200 || got != string(data) {
		t.Errorf("/files/%s: %d, %d bytes", file, code, len(got))
	}
	code, meta := get(t, srv.URL+"/files/"+file+".metadata")
	msum := sha256.Sum256([]byte(meta))
	if code != 200 || !strings.HasPrefix(meta, "Metadata-Version: 2.1\nName: Demo_Pkg") || !strings.Contains(body, `data-core-metadata="sha256=`+hex.EncodeToString(msum[:])+`"`) {
		t.Errorf("metadata: %d %q", code, meta)
	}
	for _, p := range []string{"/simple/nothere/", "/files/nothere.whl", "/files/../index.go", "/simple/a/b/", "/"} {
		if code, _ := get(t, srv.URL+p); code != 404 {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}

// pip, when the host has one, installs the bookworm closure from the
// index into a directory and imports it (the box tests do the same in a
// box; issue 13 points pip, uv and poetry at this index).
func TestIndexPip(t *testing.T) {
	needApt(t)
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-m", "pip", "--version").Run() != nil {
		t.Skip("no python3 with pip on the host")
	}
	cache, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Wheels(context.Background(), cache, Bookworm, dir); err != nil {
		t.Fatal(err)
	}
	srv, err := ServeIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	target := t.TempDir()
	cmd := exec.Command(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-cache-dir", "--index-url", srv.URL+"/simple/", "--target", target, "requests", "httpx", "fastapi", "uvicorn")
	cmd.Env = append(os.Environ(), "PIP_CONFIG_FILE=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pip install: %v\n%s", err, out)
	}
	cmd = exec.Command(py, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import requests, httpx, fastapi, uvicorn, pydantic; print(requests.__version__, httpx.__version__, fastapi.__version__, pydantic.VERSION, pydantic.compiled)", target)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "2.28.1 0.23.3 0.92.0 1.10.4 False" {
		t.Fatalf("import: %v\n%s", err, out)
	}
}
