package debwheel

import (
	"archive/zip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needApt skips a test off Debian (no apt-get or dpkg-deb), except in CI,
// which must run it.
func needApt(t *testing.T) {
	t.Helper()
	for _, c := range []string{"apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(c); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found; CI runs on Debian", c)
			}
			t.Skipf("%s not found: Debian's packages come through apt", c)
		}
	}
}

// The pinned closure, fetched through apt and converted: every wheel is
// pure Python, names the requirements its Debian Depends give, and the
// closure is complete (Convert checks it).
func TestBookworm(t *testing.T) {
	needApt(t)
	cache, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	wheels, err := Wheels(context.Background(), cache, Bookworm, out)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Wheel{}
	for _, w := range wheels {
		byName[w.Name] = w
		t.Logf("%s %s (%s %s): requires %v; dropped %v; omitted %v", w.Name, w.Version, w.Package, w.DebVersion, w.Requires, w.Dropped, w.Omitted)
		if len(w.Omitted) > 0 {
			t.Errorf("%s: compiled modules left out: %v (the pins say none are)", w.Name, w.Omitted)
		}
		zr, err := zip.OpenReader(w.File)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		zr.Close()
		if !strings.HasSuffix(filepath.Base(w.File), "-py3-none-any.whl") {
			t.Errorf("wheel file %s", w.File)
		}
		if len(names) < 4 {
			t.Errorf("%s holds %v", w.File, names)
		}
	}
	want := map[string][]string{
		"requests": {"certifi", "charset-normalizer", "idna", "urllib3>=1.21.1", "chardet>=3.0.2"},
		"httpx":    {"certifi", "httpcore>=0.15.0", "rfc3986>=1.3.0", "sniffio"},
		"fastapi":  {"pydantic>=1.8.2", "starlette>=0.25.0", "uvicorn"},
	}
	for name, reqs := range want {
		if got := strings.Join(byName[name].Requires, " "); got != strings.Join(reqs, " ") {
			t.Errorf("%s requires %q, want %q", name, got, strings.Join(reqs, " "))
		}
	}
}
