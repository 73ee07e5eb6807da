package serve

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRunPython(t *testing.T) {
	ts := start(t)
	res := ts.run(t, RunRequest{Box: "py", Code: "print(sum(range(1000)))"})
	if res.Status != StatusOK || res.ExitCode != 0 || res.Stdout != "499500\n" {
		t.Fatalf("got %+v", res)
	}
	if res.Usage.WallMS <= 0 {
		t.Errorf("usage: %+v", res.Usage)
	}
	// CPython's memory is megabytes, and an allocation shows.
	if p := res.Usage.PeakMemory; p == nil || *p < 4<<20 {
		t.Errorf("peak memory: %v", p)
	}
	big := ts.run(t, RunRequest{Box: "py", Code: "b = bytearray(64 << 20); print(len(b))"})
	if p := big.Usage.PeakMemory; big.Status != StatusOK || p == nil || *p < 64<<20 {
		t.Errorf("a 64 MiB bytearray: %s, peak %d (a bare run: %d)", big.Status, *p, *res.Usage.PeakMemory)
	}
}

func TestRunShellFilesCollect(t *testing.T) {
	ts := start(t)
	b64 := base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255})
	res := ts.run(t, RunRequest{
		Box:   "sh",
		Cmd:   []string{"sh", "-c", "cat in.txt; wc -c < /data/bin.dat; mkdir -p out; echo a > out/a.txt; echo b > out/b.txt; echo c > out/c.log; cat"},
		Stdin: "from stdin\n",
		Files: map[string]FileContent{
			"in.txt":        {Content: ptr("placed\n")},
			"/data/bin.dat": {Base64: &b64},
		},
		Collect: []string{"out/*.txt", "/work/out/c.log", "missing.txt", "/work/*/c.*", "nothing/*"},
	})
	if res.Status != StatusOK {
		t.Fatalf("got %+v", res)
	}
	if want := "placed 4 from stdin"; strings.Join(strings.Fields(res.Stdout), " ") != want {
		t.Errorf("stdout %q, want %q", res.Stdout, want)
	}
	got := map[string]string{}
	for _, f := range res.Files {
		if f.Error != "" {
			got[f.Path] = "error: " + f.Error
			continue
		}
		b, _ := base64.StdEncoding.DecodeString(f.Base64)
		got[f.Path] = string(b)
	}
	want := map[string]string{
		"/work/out/a.txt":   "a\n",
		"/work/out/b.txt":   "b\n",
		"/work/out/c.log":   "c\n",
		"/work/missing.txt": "error: no such file or directory",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("collected %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("collected %v, want %v", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// TestGlob: collect's globs over a listing (listDir's stand-in here).
func TestGlob(t *testing.T) {
	tree := map[string][]dirEntry{
		"/":             {{"etc", true}, {"work", true}},
		"/work":         {{"a.txt", false}, {"b.txt", false}, {"c.log", false}, {"out", true}, {"sub.txt", true}},
		"/work/out":     {{"x.txt", false}, {"y.csv", false}},
		"/work/sub.txt": {},
		"/etc":          {{"passwd", false}},
	}
	list := func(dir string) ([]dirEntry, error) {
		ents, ok := tree[dir]
		if !ok {
			return nil, errors.New("no such directory")
		}
		return ents, nil
	}
	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		{"/work/*.txt", []string{"/work/a.txt", "/work/b.txt"}}, // sub.txt is a directory
		{"/work/?.log", []string{"/work/c.log"}},
		{"/*/out/*", []string{"/work/out/x.txt", "/work/out/y.csv"}},
		{"/work/[ab].txt", []string{"/work/a.txt", "/work/b.txt"}},
		{"/nowhere/*", nil},
		{"/work/out/x.txt", []string{"/work/out/x.txt"}},
		{"/*/passwd", []string{"/etc/passwd"}}, // not /work/passwd, which is not there
		{"/*/out/none", nil},
	} {
		if got := glob(list, tc.pattern); !slices.Equal(got, tc.want) {
			t.Errorf("glob(%q) = %q; want %q", tc.pattern, got, tc.want)
		}
	}
}

// TestServerRun: the same runs for a caller in the process (MCP tools),
// with typed errors.
func TestServerRun(t *testing.T) {
	ts := start(t)
	res, err := ts.Run(context.Background(), RunRequest{Box: "py", Code: "print(6 * 7)"})
	if err != nil || res.Status != StatusOK || res.Stdout != "42\n" {
		t.Fatalf("Run: %+v, %v", res, err)
	}
	_, err = ts.Run(context.Background(), RunRequest{Box: "nope", Code: "print(1)"})
	var re *RequestError
	if !errors.As(err, &re) || re.Status != 404 || re.Code != "unknown_box" {
		t.Errorf("Run of an unknown box: %v", err)
	}
	_, err = ts.Run(context.Background(), RunRequest{Box: "py", Code: "print(1)", Network: &NetworkRequest{On: true}})
	if !errors.As(err, &re) || re.Code != "network_not_granted" {
		t.Errorf("Run with network: %v", err)
	}
}

// TestThousandCleanRuns: 1,000 consecutive runs on one server, each from
// the python snapshot, and none sees anything an earlier one left: in the
// interpreter's modules, its builtins, sys.path, the environment, files, or
// the random state.
func TestThousandCleanRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 runs")
	}
	ts := start(t)
	const runs = 1000
	code := `import builtins, json, os, random, sys
left = [w for w, seen in [
    ("module", hasattr(json, "_left")), ("builtin", hasattr(builtins, "_left")),
    ("sys.path", "/left" in sys.path), ("env", "LEFT" in os.environ),
    ("file", os.path.exists("/tmp/left")), ("cwd file", os.path.exists("left.txt")),
    ("sys.modules", "_left_mod" in sys.modules)] if seen]
json._left = builtins._left = 1
sys.path.append("/left"); os.environ["LEFT"] = "1"
open("/tmp/left", "w").write("x"); open("left.txt", "w").write("x")
sys.modules["_left_mod"] = json
print("left:" + ",".join(left) if left else "clean", random.random(), os.urandom(8).hex())`
	seen := map[string]bool{}
	for i := 0; i < runs; i++ {
		req := RunRequest{Box: "py", Code: code}
		if i%10 == 0 {
			// Some runs place a file too: their layer is not empty.
			req.Files = map[string]FileContent{"placed.txt": {Content: ptr("p")}}
		}
		res := ts.run(t, req)
		fields := strings.Fields(res.Stdout)
		if res.Status != StatusOK || len(fields) != 3 || fields[0] != "clean" {
			t.Fatalf("run %d: %s %q %q", i, res.Status, res.Stdout, res.Stderr)
		}
		if !res.Usage.Snapshot {
			t.Fatalf("run %d did not start from the snapshot", i)
		}
		if seen[fields[1]] || seen[fields[2]] {
			t.Fatalf("run %d drew random numbers an earlier run drew: %q", i, res.Stdout)
		}
		seen[fields[1]], seen[fields[2]] = true, true
	}
}
