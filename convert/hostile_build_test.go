package convert_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
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

// tarOf is a tar archive of the entries, in order: name, then "->target"
// for a symlink, "=>target" for a hard link, "/" ending a directory, else
// the file's content.
func tarOf(t *testing.T, entries ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e[1]))}
		switch {
		case strings.HasPrefix(e[1], "->"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e[1][2:], 0
		case strings.HasPrefix(e[1], "=>"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e[1][2:], 0
		case strings.HasSuffix(e[0], "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e[1]))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ADD of a local archive writes nothing out of its destination through
// the archive's own links (Docker's extraction refuses them), and says
// which entry it refused.
func TestHostileAddArchiveLinks(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		entries [][2]string
		want    string
	}{
		{"etc", [][2]string{{"etclink", "->/etc"}, {"etclink/passwd", "root::0:0::/:/bin/sh\n"}}, "archive entry etclink/passwd: etclink is a link that leads out of the destination"},
		{"bin", [][2]string{{"binlink", "->/bin"}, {"binlink/ls", "#!/bin/sh\necho pwned\n"}}, "archive entry binlink/ls: binlink is a link that leads out of the destination"},
		{"relative", [][2]string{{"up", "->../../etc"}}, "archive entry up: the symlink to ../../etc leads out of the destination"},
		{"chain", [][2]string{{"sub/", ""}, {"l1", "->sub"}, {"sub/l2", "->/etc"}, {"l1/l2/passwd", "x"}}, "archive entry l1/l2/passwd: l1/l2 is a link that leads out of the destination"},
		{"newdir", [][2]string{{"etclink", "->/etc"}, {"etclink/new/file", "x"}}, "archive entry etclink/new/file: etclink is a link that leads out of the destination"},
		{"dirchmod", [][2]string{{"etclink", "->/etc"}, {"etclink/", ""}, {"etclink/passwd", "x"}}, ""},
		{"hardlink", [][2]string{{"etclink", "->/etc"}, {"pw", "=>etclink/passwd"}}, "archive entry pw: the hard link to etclink/passwd leads out of the destination"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeCase(t, map[string]string{
				"Dockerfile": "FROM busybox\nADD evil.tar /dest/\nCMD cat /etc/passwd /bin/ls 2>&1 | grep -c pwned; ls -l /etc/passwd /dest\n",
				"evil.tar":   string(tarOf(t, c.entries...)),
			})
			res, err := build(t, store, dir, convert.WithTags("add-"+c.name))
			if c.want == "" {
				// A directory entry replaces the link of the same name.
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := readBoxFile(t, store, res, "/dest/etclink/passwd"); got != "x" {
					t.Errorf("/dest/etclink/passwd = %q, want x", got)
				}
				if got, _ := readBoxFile(t, store, res, "/etc/passwd"); got == "x" {
					t.Errorf("/etc/passwd was rewritten")
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: ADD evil.tar: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
	// Links that stay inside are made as they are.
	dir := writeCase(t, map[string]string{
		"Dockerfile": "FROM busybox\nADD ok.tar /dest/\nCMD cat /dest/sub/link /dest/via/f /dest/hard; readlink /dest/abs\n",
		"ok.tar": string(tarOf(t, [2]string{"d/", ""}, [2]string{"d/f", "f\n"}, [2]string{"sub/link", "->../d/f"},
			[2]string{"via", "->d"}, [2]string{"hard", "=>d/f"}, [2]string{"abs", "->/usr/bin/env"})),
	})
	res, err := build(t, store, dir, convert.WithTags("add-ok"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := runDefault(t, store, res), "f\nf\nf\n/usr/bin/env\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// deepTar is an archive of a chain of depth directories d/d/.../d with a
// file f at the bottom.
func deepTar(t *testing.T, depth int) []byte {
	t.Helper()
	entries := make([][2]string, 0, depth+1)
	p := ""
	for i := 0; i < depth; i++ {
		p += "d/"
		entries = append(entries, [2]string{p, ""})
	}
	return tarOf(t, append(entries, [2]string{p + "f", "bottom\n"})...)
}

// COPY --from of a deep tree costs one step per entry (it was cubic in the
// depth: 10,000 levels took about a day), and a cancelled build stops
// copying.
func TestHostileDeepCopyFrom(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 3000-level tree")
	}
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const depth = 3000
	dir := writeCase(t, map[string]string{
		"Dockerfile": "FROM scratch AS deep\nADD deep.tar /\nFROM busybox\nCOPY --from=deep /d /x\n",
		"deep.tar":   string(deepTar(t, depth)),
	})
	res, err := build(t, store, dir, convert.WithTags("deep"))
	if err != nil {
		t.Fatal(err)
	}
	bottom := "/x" + strings.Repeat("/d", depth-1) + "/f"
	if got, _ := readBoxFile(t, store, res, bottom); got != "bottom\n" {
		t.Errorf("%s... = %q, want bottom", bottom[:20], got)
	}

	// Cancelled as the COPY starts, the build ends with the context's
	// error instead of copying on.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	df, ctxDir := caseDirs(dir)
	_, err = convert.Build(ctx, store, rt, ctxDir, convert.WithDockerfile(df), convert.WithShimsDir(testutil.ShimsDir(t)), convert.WithNoCache(),
		convert.WithProgress(func(e convert.Event) {
			if strings.HasPrefix(e.Instruction, "COPY") && !e.Done {
				cancel()
			}
		}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled build: got %v, want context.Canceled", err)
	}
}

// zeroBomb is a .tar.gz of one file of size zero bytes: a thousandth of
// its size compressed.
func zeroBomb(t *testing.T, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "zero", Mode: 0o644, Typeflag: tar.TypeReg, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// A decompression bomb (ADD of a small .tar.gz, COPY --from of a big file
// of an image) stops at the build's memory limit with a clear error,
// instead of taking the host's memory: files are copied in pieces and a
// step's layer holds at most the limit.
func TestHostileDecompressionBomb(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const size = 128 << 20
	limit := convert.WithLimits(runtime.Limits{Memory: 32 << 20})
	dir := writeCase(t, map[string]string{
		"Dockerfile":       "FROM busybox\nADD bomb.tar.gz /\n",
		"from.Dockerfile":  "FROM busybox\nCOPY --from=big /zero /x\n",
		"mount.Dockerfile": "FROM busybox\nRUN --mount=type=bind,from=big,target=/m true\n",
		"file.Dockerfile":  "FROM busybox\nRUN --mount=type=bind,from=big,source=zero,target=/m true\n",
		"bomb.tar.gz":      string(zeroBomb(t, size)),
	})
	const want = "the files of this step pass the build's memory limit of 32 MiB"
	_, err = build(t, store, dir, limit)
	if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: ADD bomb.tar.gz: ") || !strings.Contains(err.Error(), want) {
		t.Errorf("ADD of a bomb: got %v, want %q", err, want)
	}
	// Without the limit, the bomb is only a big file; copying it from
	// that box is bounded the same way.
	if _, err := build(t, store, dir, convert.WithTags("big"), convert.WithLimits(runtime.Limits{Memory: runtime.Unlimited})); err != nil {
		t.Fatal(err)
	}
	_, err = build(t, store, dir, limit, convert.WithDockerfile(filepath.Join(dir, "from.Dockerfile")))
	if err == nil || !strings.HasPrefix(err.Error(), "from.Dockerfile:2: COPY zero: ") || !strings.Contains(err.Error(), want) {
		t.Errorf("COPY --from of a big file: got %v, want %q", err, want)
	}
	for _, df := range []string{"mount.Dockerfile", "file.Dockerfile"} {
		_, err = build(t, store, dir, limit, convert.WithDockerfile(filepath.Join(dir, df)))
		if err == nil || !strings.HasPrefix(err.Error(), df+":2: RUN --mount=type=bind: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", df, err, want)
		}
	}
}
