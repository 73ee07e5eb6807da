package convert_test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/oci"
)

// ADD of a URL, when the build is granted downloads: wasmbox fetches it,
// checks --checksum, and lays it out as Docker does.
func TestAddURL(t *testing.T) {
	body := "downloaded content\n"
	lastMod := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/tool.txt":
			w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
			fmt.Fprint(w, body)
		case "/files/other.txt":
			fmt.Fprint(w, "other\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(body)))
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := writeCase(t, map[string]string{"Dockerfile": fmt.Sprintf(`FROM busybox
ADD --checksum=%[2]s %[1]s/files/tool.txt /opt/
ADD --chmod=644 %[1]s/files/other.txt /etc/renamed.txt
ADD %[1]s/files/tool.txt %[1]s/files/other.txt /multi/
CMD ls -l /opt/tool.txt /etc/renamed.txt | cut -c1-10; cat /opt/tool.txt /multi/tool.txt /multi/other.txt; date -r /opt/tool.txt -u +%%Y-%%m-%%d
`, srv.URL, sum)})
	res, err := build(t, store, dir, convert.WithTags("dl"), convert.WithDownloads(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	want := "-rw-r--r--\n-rw-------\ndownloaded content\ndownloaded content\nother\n2024-05-06\n"
	if got := runDefault(t, store, res); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}

	for _, c := range []struct{ add, want string }{
		{"--checksum=sha256:" + strings.Repeat("0", 64) + " " + srv.URL + "/files/tool.txt /x", "Dockerfile:2: ADD " + srv.URL + "/files/tool.txt: checksum mismatch"},
		{srv.URL + "/files/missing.txt /x", "Dockerfile:2: ADD " + srv.URL + "/files/missing.txt: the server answered 404"},
		{"--checksum=md5:abc " + srv.URL + "/files/tool.txt /x", "Dockerfile:2: ADD --checksum=md5:abc"},
		{srv.URL + "/files/tool.txt local.txt /x/", "Dockerfile:2: ADD: mixing URLs and local files"},
		{"git@github.com:example/repo.git /src", "Dockerfile:2: ADD git@github.com:example/repo.git: git sources are not supported"},
		{"ftp://example.com/x /x", "Dockerfile:2: ADD ftp://example.com/x: only http and https"},
	} {
		dir := writeCase(t, map[string]string{"Dockerfile": "FROM busybox\nADD " + c.add + "\n", "local.txt": "x"})
		_, err := build(t, store, dir, convert.WithDownloads(srv.Client()))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("ADD %s:\n got %v\nwant prefix %q", c.add, err, c.want)
		}
	}
}

func TestAddExclude(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := writeCase(t, map[string]string{
		"Dockerfile": "FROM busybox\nADD --exclude=*.tmp --exclude=cache/ src/ /app/\nCMD find /app | sort\n",
		"src/a.txt":  "a", "src/b.tmp": "b", "src/cache/c.txt": "c", "src/keep/d.txt": "d",
	})
	res, err := build(t, store, dir, convert.WithTags("ex"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := runDefault(t, store, res), "/app\n/app/a.txt\n/app/keep\n/app/keep/d.txt\n"; got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
