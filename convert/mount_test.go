package convert_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/oci"
)

// writeCase writes a Dockerfile and context files into a new directory.
func writeCase(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readBoxFile reads a file of a built box.
func readBoxFile(t *testing.T, store *oci.Store, res *convert.Result, p string) (string, bool) {
	t.Helper()
	img, err := store.Resolve(res.Descriptor.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	tree, closer, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	sr, err := tree.Content(strings.TrimPrefix(p, "/"))
	if err != nil {
		return "", false
	}
	b := make([]byte, sr.Size())
	sr.ReadAt(b, 0)
	return string(b), true
}

const secretValue = "s3cret-value-8f2a"

func TestRunMountSecret(t *testing.T) {
	dir := writeCase(t, map[string]string{"Dockerfile": `FROM alpine:3.20
RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /len && ls -l /run/secrets/token | cut -c1-10 > /mode
RUN --mount=type=secret,id=token,env=TOKEN,target=/etc/tok.conf [ "$(cat /etc/tok.conf)" = "$TOKEN" ] && echo same > /same
RUN --mount=type=secret,id=token,env=API_KEY sh -c 'test -n "$API_KEY" && ! test -e /run/secrets/token' && echo env-only > /envonly
RUN --mount=type=secret,id=absent echo optional secrets may be missing > /optional
`})
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	res, err := build(t, store, dir, convert.WithTags("m"), convert.WithSecret("token", []byte(secretValue)),
		convert.WithProgress(func(e convert.Event) { log.Write(e.Output) }))
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	for p, want := range map[string]string{"/len": "17\n", "/mode": "-r--------\n", "/same": "same\n", "/envonly": "env-only\n", "/optional": "optional secrets may be missing\n"} {
		if got, _ := readBoxFile(t, store, res, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	for _, p := range []string{"/run/secrets/token", "/run/secrets", "/etc/tok.conf"} {
		if _, ok := readBoxFile(t, store, res, p); ok {
			t.Errorf("%s stayed in the box", p)
		}
	}
	// The secret is in no blob of the store (layers, configs, cache).
	filepath.WalkDir(store.Dir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secretValue)) {
				t.Errorf("the secret is written in %s", p)
			}
		}
		return nil
	})

	// A required secret that is not given fails the build, naming it.
	dir = writeCase(t, map[string]string{"Dockerfile": "FROM alpine:3.20\nRUN --mount=type=secret,id=npmrc,required true\n"})
	_, err = build(t, store, dir)
	if err == nil || !strings.Contains(err.Error(), `Dockerfile:2: RUN --mount=type=secret: secret "npmrc" is required`) {
		t.Errorf("missing required secret: %v", err)
	}
}

func TestRunMountCacheAcrossBuilds(t *testing.T) {
	dir := writeCase(t, map[string]string{
		"Dockerfile": `FROM alpine:3.20
RUN --mount=type=bind,source=src,target=/src --mount=type=cache,target=/var/cache/build sh -c 'cat /src/v >> /var/cache/build/log; wc -l < /var/cache/build/log > /count; cat /var/cache/build/log > /log'
`,
		"src/v": "one\n",
	})
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	count := func(res *convert.Result) string {
		s, _ := readBoxFile(t, store, res, "/count")
		return strings.TrimSpace(s)
	}
	res, err := build(t, store, dir, convert.WithTags("m"))
	if err != nil {
		t.Fatal(err)
	}
	if c := count(res); c != "1" {
		t.Fatalf("first build: count %q", c)
	}
	// Unchanged: the step is cached, the cache mount is not touched.
	var cached bool
	res, err = build(t, store, dir, convert.WithTags("m"), convert.WithProgress(func(e convert.Event) { cached = cached || e.Cached }))
	if err != nil || !cached || count(res) != "1" {
		t.Fatalf("rebuild: err %v, cached %v, count %q", err, cached, count(res))
	}
	// A change in the bound source misses the build cache; the cache
	// mount still holds what the first build wrote.
	if err := os.WriteFile(filepath.Join(dir, "src/v"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = build(t, store, dir, convert.WithTags("m"))
	if err != nil {
		t.Fatal(err)
	}
	if log, _ := readBoxFile(t, store, res, "/log"); log != "one\ntwo\n" {
		t.Errorf("cache mount after the second run holds %q", log)
	}
	// The bound source is not in the box.
	if _, ok := readBoxFile(t, store, res, "/src/v"); ok {
		t.Error("the bind mount's file stayed in the box")
	}
}

func TestRunMountErrors(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ run, want string }{
		{"--mount=type=ssh true", "Dockerfile:2: RUN --mount=type=ssh: SSH agent mounts cannot be used"},
		{"--mount=type=bind,source=nosuch,target=/x true", "Dockerfile:2: RUN --mount=type=bind: source nosuch: not found in the build context"},
		{"--mount=type=bind,from=nostage,target=/x true", `Dockerfile:2: RUN --mount=type=bind,from=nostage: no earlier stage is named "nostage"`},
		{"--mount=type=tmpfs,target=/a --mount=type=tmpfs,target=/a true", "Dockerfile:2: RUN --mount: /a is the target of two mounts"},
		{"--mount=type=bogus,target=/a true", "Dockerfile:2:"},
	} {
		dir := writeCase(t, map[string]string{"Dockerfile": "FROM alpine:3.20\nRUN " + c.run + "\n"})
		_, err := build(t, store, dir)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("RUN %s:\n got %v\nwant prefix %q", c.run, err, c.want)
		}
	}
}

// A cache mount at /c holds /c only: the box's /code is its own (Go's
// wasip1 preopens matched by string prefix, sending /code/x to the cache
// directory as ode/x).
func TestRunMountCacheIsNotAPrefix(t *testing.T) {
	dir := writeCase(t, map[string]string{
		"Dockerfile": `FROM alpine:3.20
RUN --mount=type=cache,target=/c mkdir -p /code && echo box > /code/x && echo cached > /c/y
`,
	})
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := build(t, store, dir, convert.WithTags("p"))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := readBoxFile(t, store, res, "/code/x"); s != "box\n" {
		t.Errorf("the box's /code/x: %q, %v", s, ok)
	}
	var inCache []string
	filepath.WalkDir(filepath.Join(store.Dir(), "mounts", "cache"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			inCache = append(inCache, d.Name())
		}
		return nil
	})
	if strings.Join(inCache, " ") != "y" {
		t.Errorf("the cache directory holds %v, want [y]", inCache)
	}
}
