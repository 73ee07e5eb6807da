package convert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

var update = flag.Bool("update", false, "rewrite the want-output files of testdata/dockerfiles")

var rt *runtime.Runtime

func TestMain(m *testing.M) {
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "wasmbox-compiled-")
	if err != nil {
		panic(err)
	}
	rt, err = runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(dir))
	if err != nil {
		panic(err)
	}
	code := m.Run()
	rt.Close(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}

// caseDirs returns the Dockerfile and the build context of a case folder:
// the context is its ctx/ folder when it has one, else the folder itself.
func caseDirs(dir string) (dockerfile, context string) {
	if st, err := os.Stat(filepath.Join(dir, "ctx")); err == nil && st.IsDir() {
		return filepath.Join(dir, "Dockerfile"), filepath.Join(dir, "ctx")
	}
	return filepath.Join(dir, "Dockerfile"), dir
}

func build(t *testing.T, store *oci.Store, dir string, opts ...convert.Option) (*convert.Result, error) {
	t.Helper()
	df, ctxDir := caseDirs(dir)
	opts = append([]convert.Option{convert.WithDockerfile(df), convert.WithShimsDir(testutil.ShimsDir(t))}, opts...)
	return convert.Build(context.Background(), store, rt, ctxDir, opts...)
}

// runDefault runs the box's ENTRYPOINT + CMD and returns its output.
func runDefault(t *testing.T, store *oci.Store, res *convert.Result) string {
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
	cfg := img.Config.Config
	var out bytes.Buffer
	err = rt.Run(context.Background(), runtime.NewOverlay(tree), runtime.Cmd{
		Args:   append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...),
		Env:    cfg.Env,
		Dir:    cfg.WorkingDir,
		Stdout: &out,
		Stderr: &out,
	})
	if err != nil {
		t.Fatalf("running the box: %v\n%s", err, out.String())
	}
	return out.String()
}

func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("../testdata/dockerfiles/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			store, err := oci.OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			res, err := build(t, store, dir, convert.WithTags("case"), convert.WithProgress(func(e convert.Event) { log.Write(e.Output) }))
			if err != nil {
				t.Fatalf("build: %v\n%s", err, log.String())
			}
			golden(t, filepath.Join(dir, "want-output"), runDefault(t, store, res))
			cfg, err := json.MarshalIndent(res.Config.Config, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "want-config.json"), string(cfg)+"\n")
			golden(t, filepath.Join(dir, "want-files"), listLayers(t, store, res))
		})
	}
}

// golden compares got with the file want (rewritten with -update).
func golden(t *testing.T, wantFile, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(wantFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", filepath.Base(wantFile), diff)
	}
}

// listLayers lists what the Dockerfile's own layers hold (not the base
// layers of the stand-ins): one line per entry with its type, mode,
// owner, size or link target; whiteouts and opaque directories marked.
func listLayers(t *testing.T, store *oci.Store, res *convert.Result) string {
	t.Helper()
	img, err := store.Resolve(res.Descriptor.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	li := 0
	for _, h := range img.Config.History {
		if h.EmptyLayer {
			continue
		}
		desc := img.Manifest.Layers[li]
		li++
		if strings.HasPrefix(h.CreatedBy, "wasmbox ") {
			continue // a base layer of the stand-ins
		}
		f, err := os.Open(store.BlobPath(desc.Digest))
		if err != nil {
			t.Fatal(err)
		}
		layer, err := fsimage.Open(f, desc.Size)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "# %s\n", h.CreatedBy)
		var walk func(dir string)
		walk = func(dir string) {
			children, err := layer.Children(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range children {
				line := fmt.Sprintf("%v %d:%d %s", e.FileMode(), e.UID, e.GID, e.Path)
				switch e.Type {
				case fsimage.TypeReg:
					line += fmt.Sprintf(" (%d bytes)", e.Size)
				case fsimage.TypeSymlink:
					line += " -> " + e.Linkname
				case fsimage.TypeHardlink:
					line += " link to " + e.Linkname
				case fsimage.TypeWhiteout:
					line = "whiteout " + e.Path
				}
				if e.Opaque {
					line += " (opaque)"
				}
				b.WriteString(line + "\n")
				if e.Type == fsimage.TypeDir {
					walk(e.Path)
				}
			}
		}
		walk(".")
		f.Close()
	}
	return b.String()
}

func TestNegative(t *testing.T) {
	cases, err := filepath.Glob("../testdata/dockerfiles-negative/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			store, err := oci.OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, err = build(t, store, dir, convert.WithTags("case"))
			if err == nil {
				t.Fatal("the build succeeded")
			}
			want, err2 := os.ReadFile(filepath.Join(dir, "want-error"))
			if err2 != nil {
				t.Fatal(err2)
			}
			if !strings.HasPrefix(err.Error(), strings.TrimSpace(string(want))) {
				t.Errorf("error:\n got %q\nwant prefix %q", err.Error(), strings.TrimSpace(string(want)))
			}
			if _, err := store.Resolve("case"); err == nil {
				t.Error("a failed build named a box")
			}
		})
	}
}

func TestConfigAndHistory(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := build(t, store, "../testdata/dockerfiles/entrypoint-cmd")
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	if diff := cmp.Diff([]string{"echo", "entry"}, c.Config.Entrypoint); diff != "" {
		t.Errorf("Entrypoint (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, c.Config.Cmd); diff != "" {
		t.Errorf("Cmd (-want +got):\n%s", diff)
	}
	if c.Config.Labels["org.opencontainers.image.title"] != "entrypoint demo" {
		t.Errorf("labels: %v", c.Config.Labels)
	}
	if c.OS != "wasip1" || c.Architecture != "wasm" {
		t.Errorf("platform %s/%s", c.OS, c.Architecture)
	}
}

func TestBuildArgs(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := build(t, store, "../testdata/dockerfiles/args-and-config",
		convert.WithTags("args"), convert.WithBuildArgs(map[string]string{"VERSION": "2.0", "GREETING": "hey", "UNUSED": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config.Config
	if c.Labels["version"] != "2.0" {
		t.Errorf("label version = %q, want 2.0", c.Labels["version"])
	}
	if diff := cmp.Diff([]string{"PATH=" + runtime.DefaultPath, "APP_VERSION=2.0"}, c.Env); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	wantPorts := map[string]struct{}{"8080/tcp": {}, "53/udp": {}, "9000/tcp": {}, "9001/tcp": {}}
	if diff := cmp.Diff(wantPorts, c.ExposedPorts); diff != "" {
		t.Errorf("ExposedPorts (-want +got):\n%s", diff)
	}
	if c.User != "root" || c.StopSignal != "SIGINT" || c.WorkingDir != "/home/app" {
		t.Errorf("User %q StopSignal %q WorkingDir %q", c.User, c.StopSignal, c.WorkingDir)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("Volumes %v", c.Volumes)
	}
	if got := runDefault(t, store, res); !strings.HasPrefix(got, "hey 2.0 wasip1/wasm\n") {
		t.Errorf("output %q", got)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "UNUSED") {
		t.Errorf("warnings %q, want one about UNUSED", res.Warnings)
	}
}

func TestBuildCache(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctxDir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM alpine\nCOPY f /f\nRUN cat /f > /g\nWORKDIR /w\nRUN cat /g\n")
	write("f", "one\n")
	steps := func(opts ...convert.Option) (cached []bool, out string) {
		t.Helper()
		var log bytes.Buffer
		opts = append(opts, convert.WithShimsDir(testutil.ShimsDir(t)), convert.WithProgress(func(e convert.Event) {
			log.Write(e.Output)
			if e.Done && e.Step > 1 {
				cached = append(cached, e.Cached)
			}
		}))
		if _, err := convert.Build(context.Background(), store, rt, ctxDir, opts...); err != nil {
			t.Fatal(err)
		}
		return cached, log.String()
	}
	if c, _ := steps(); !cmp.Equal(c, []bool{false, false, false, false}) {
		t.Errorf("first build: cached %v", c)
	}
	if c, out := steps(); !cmp.Equal(c, []bool{true, true, true, true}) || out != "" {
		t.Errorf("unchanged rebuild: cached %v, output %q", c, out)
	}
	write("f", "two\n")
	if c, out := steps(); !cmp.Equal(c, []bool{false, false, false, false}) || out != "two\n" {
		t.Errorf("after changing f: cached %v, output %q", c, out)
	}
	if c, _ := steps(convert.WithNoCache()); !cmp.Equal(c, []bool{false, false, false, false}) {
		t.Errorf("--no-cache: cached %v", c)
	}
	if c, _ := steps(convert.WithBuildArgs(map[string]string{"HTTP_PROXY": "http://proxy"})); !cmp.Equal(c, []bool{true, false, false, false}) {
		t.Errorf("with a proxy build arg (RUN's env changes): cached %v", c)
	}
}

func TestReproducible(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := "../testdata/dockerfiles/shell-basics"
	first, err := build(t, store, dir)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := build(t, store, dir)
	if err != nil {
		t.Fatal(err)
	}
	if first.Descriptor.Digest != cached.Descriptor.Digest {
		t.Errorf("an unchanged rebuild changed the digest: %s then %s", first.Descriptor.Digest, cached.Descriptor.Digest)
	}
	// Without the cache, SOURCE_DATE_EPOCH pins every time.
	epoch := convert.WithSourceDateEpoch(time.Unix(1700000000, 0))
	a, err := build(t, store, dir, convert.WithNoCache(), epoch)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // let the clock move on
	b, err := build(t, store, dir, convert.WithNoCache(), epoch)
	if err != nil {
		t.Fatal(err)
	}
	if a.Descriptor.Digest != b.Descriptor.Digest {
		t.Errorf("two --no-cache builds with SOURCE_DATE_EPOCH differ: %s and %s", a.Descriptor.Digest, b.Descriptor.Digest)
	}
	if got := a.Config.Created.Unix(); got != 1700000000 {
		t.Errorf("created %d, want the epoch", got)
	}
}

func TestWarnings(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctxDir := t.TempDir()
	df := "FROM alpine as base\nMAINTAINER someone\nRUN --network=none true\nFROM --platform=linux/amd64 base\nCOPY --link Dockerfile /\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := convert.Build(context.Background(), store, rt, ctxDir, convert.WithShimsDir(testutil.ShimsDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(res.Warnings, "\n")
	for _, want := range []string{"Dockerfile:1: FromAsCasing", "Dockerfile:2: MaintainerDeprecated", "Dockerfile:4: FROM --platform=linux/amd64"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q lack %q", all, want)
		}
	}
}

// A failed build keeps the warnings recorded before it failed: they may
// say why (a stand-in used for the base).
func TestWarningsOfAFailedBuild(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := writeCase(t, map[string]string{"Dockerfile": "FROM --platform=linux/amd64 alpine as base\nRUN false\n"})
	_, err = build(t, store, dir)
	if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: RUN false") {
		t.Fatalf("err %v", err)
	}
	var de *convert.Error
	if !errors.As(err, &de) || de.Line != 2 {
		t.Errorf("errors.As(%v, *convert.Error): %v", err, de)
	}
	all := strings.Join(convert.Warnings(err), "\n")
	for _, want := range []string{"Dockerfile:1: FromAsCasing", "Dockerfile:1: FROM --platform=linux/amd64"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q lack %q", all, want)
		}
	}
	if w := convert.Warnings(errors.New("other")); w != nil {
		t.Errorf("warnings of another error: %q", w)
	}
}

func TestOnbuildHealthcheck(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := build(t, store, "../testdata/dockerfiles/onbuild-healthcheck", convert.WithTarget("base"))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config.Config
	if diff := cmp.Diff([]string{`RUN echo "triggered in the child" > /onbuild.txt`}, c.OnBuild); diff != "" {
		t.Errorf("OnBuild of the base (-want +got):\n%s", diff)
	}
	if c.Healthcheck == nil || c.Healthcheck.Interval != 5*time.Second || c.Healthcheck.Retries != 2 {
		t.Errorf("Healthcheck %+v", c.Healthcheck)
	}
	if diff := cmp.Diff([]string{"/bin/sh", "-c"}, c.Shell); diff != "" {
		t.Errorf("Shell (-want +got):\n%s", diff)
	}
	child, err := build(t, store, "../testdata/dockerfiles/onbuild-healthcheck")
	if err != nil {
		t.Fatal(err)
	}
	if len(child.Config.Config.OnBuild) != 0 {
		t.Errorf("the child keeps the triggers: %q", child.Config.Config.OnBuild)
	}
}

// TestParallelStages checks that independent stages build at the same
// time: both start before either's (slow) RUN ends.
func TestParallelStages(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctxDir := t.TempDir()
	df := "FROM alpine AS a\nRUN sleep 1 && echo a > /a\nFROM alpine AS b\nRUN sleep 1 && echo b > /b\n" +
		"FROM alpine\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nCMD [\"cat\", \"/a\", \"/b\"]\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	var events []string
	res, err := convert.Build(context.Background(), store, rt, ctxDir, convert.WithTags("par"), convert.WithNoCache(),
		convert.WithShimsDir(testutil.ShimsDir(t)), convert.WithProgress(func(e convert.Event) {
			if e.Output == nil && (strings.HasPrefix(e.Instruction, "FROM alpine AS") || strings.HasPrefix(e.Instruction, "RUN")) {
				events = append(events, fmt.Sprintf("%s done=%v", e.Instruction[:min(len(e.Instruction), 16)], e.Done))
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	firstRunDone := -1
	lastStageStart := -1
	for i, e := range events {
		if strings.HasPrefix(e, "RUN") && strings.HasSuffix(e, "done=true") && firstRunDone < 0 {
			firstRunDone = i
		}
		if strings.HasPrefix(e, "FROM") && strings.HasSuffix(e, "done=false") {
			lastStageStart = i
		}
	}
	if lastStageStart > firstRunDone {
		t.Errorf("stages ran one after the other: %q", events)
	}
	if got := runDefault(t, store, res); got != "a\nb\n" {
		t.Errorf("output %q", got)
	}
}

// A box without RUN steps leaves its programs compiled in the runtime's
// compilation cache, so that its first run in a new process only loads
// them.
func TestBuildPrecompiles(t *testing.T) {
	ctx := context.Background()
	cacheDir := t.TempDir()
	fresh, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(cacheDir))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close(ctx)
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM alpine\nCMD [\"echo\", \"hi\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := convert.Build(ctx, store, fresh, ctxDir, convert.WithShimsDir(testutil.ShimsDir(t))); err != nil {
		t.Fatal(err)
	}
	compiled, err := filepath.Glob(filepath.Join(cacheDir, "wazero", "*", "*", "*"))
	if err != nil || len(compiled) != 1 {
		t.Errorf("compiled modules in the cache after the build: %q, %v; want the shell's", compiled, err)
	}
}
