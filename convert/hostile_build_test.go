package convert_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/oci"
)

// The build-side cases of the hostile suite (issue 16): what a hostile
// Dockerfile, build context or image must not get from a build.

// ignoredContext is a context whose .dockerignore hides .env and
// secrets/, with links to them beside: as in Docker, where ignored files
// are not in the context at all, the links dangle.
func ignoredContext(t *testing.T, dockerfile string) string {
	t.Helper()
	dir := writeCase(t, map[string]string{
		"Dockerfile":    dockerfile,
		".dockerignore": ".env\nsecrets/\n",
		".env":          "TOKEN=leaked-env\n",
		"secrets/key":   "leaked-key\n",
		"app.txt":       "app\n",
	})
	for link, target := range map[string]string{
		"envlink": ".env", "secdir": "secrets", "keylink": "secdir/key", "abslink": "/secrets/key",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHostileIgnoredThroughSymlinks(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The links are copied as links, dangling in the box too; nothing
	// ignored reaches a layer or a RUN.
	dir := ignoredContext(t, `FROM busybox
COPY . /ctx
RUN --mount=type=bind,source=.,target=/m cat /m/envlink /m/secdir/key /m/keylink /m/abslink > /seen 2>&1; ls -a /m >> /seen
CMD cat /ctx/envlink /ctx/secdir/key /ctx/keylink /ctx/abslink 2>/dev/null; readlink /ctx/envlink /ctx/secdir; ls -a /ctx; cat /seen
`)
	res, err := build(t, store, dir, convert.WithTags("ignored"))
	if err != nil {
		t.Fatal(err)
	}
	got := runDefault(t, store, res)
	if strings.Contains(got, "leaked") {
		t.Errorf("an ignored file reached the box:\n%s", got)
	}
	if !strings.Contains(got, ".env\nsecrets\n") || !strings.Contains(got, "envlink") {
		t.Errorf("the links are not copied as links:\n%s", got)
	}
	// Following a link to an ignored entry finds nothing, as in Docker.
	for _, instr := range []string{
		"COPY envlink /x",
		"COPY secdir/key /x",
		"COPY secdir /x",
		"COPY keylink /x",
		"COPY abslink /x",
		"ADD secdir/key /x",
		"COPY --exclude=nothing secdir /x",
		"RUN --mount=type=bind,source=secdir,target=/m cat /m/key",
		"RUN --mount=type=bind,source=envlink,target=/m cat /m",
	} {
		dir := ignoredContext(t, "FROM busybox\n"+instr+"\n")
		_, err := build(t, store, dir)
		if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: ") || !strings.Contains(err.Error(), "not found in the build context") {
			t.Errorf("%s: got %v, want not found in the build context", instr, err)
		}
	}
}
