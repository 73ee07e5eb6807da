package fsimage

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"
)

// jail is a tree of host-like absolute paths in which Walk runs confined
// to /jail. Its Lookup is deliberately naive (path.Join, so a ".." or a
// "/" handed to it escapes): whatever Walk asks of it must keep the walk
// inside.
type jail struct {
	nodes   map[string]string // path -> "" for a directory, "file", or "->target"
	lookups int
	links   int // Link calls that returned a link
}

const jailRoot = "/jail"

func newJail(spec string) *jail {
	j := &jail{nodes: map[string]string{"/": "", jailRoot: "", "/outside": "", "/outside/secret": "file"}}
	for _, line := range strings.Split(spec, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, what, _ := strings.Cut(line, " ")
		p := path.Join(jailRoot, name)
		if !strings.HasPrefix(p, jailRoot+"/") {
			continue
		}
		for d := path.Dir(p); d != jailRoot; d = path.Dir(d) {
			if _, ok := j.nodes[d]; !ok {
				j.nodes[d] = ""
			}
		}
		j.nodes[p] = what
	}
	return j
}

func (j *jail) Root() string { return jailRoot }

func (j *jail) Lookup(dir, name string) (string, bool) {
	j.lookups++
	p := path.Join(dir, name)
	_, ok := j.nodes[p]
	return p, ok
}

func (j *jail) IsDir(n string) bool { return j.nodes[n] == "" }

func (j *jail) Link(n string) (string, bool) {
	t, ok := strings.CutPrefix(j.nodes[n], "->")
	if ok {
		j.links++
	}
	return t, ok
}

func TestWalk(t *testing.T) {
	var chain strings.Builder
	for i := range MaxLinks {
		fmt.Fprintf(&chain, "l%d ->l%d\n", i, i+1)
	}
	chain.WriteString("l40 file\nm ->l0\n")
	const tree = `
d/f file
d/e/g file
up ->../../../..
abs ->/outside/secret
dots ->/../..//./outside
rel ->d/e
loop ->loop
a ->b
b ->a
dangling ->nowhere
empty ->
tofile ->d/f
`
	tests := []struct {
		tree, name string
		follow     bool
		want       string // Node, "!missing node" when Found is false, or the error
		wantPath   string
	}{
		{tree: tree, name: ".", want: "/jail", wantPath: "."},
		{tree: tree, name: "", want: "/jail", wantPath: "."},
		{tree: tree, name: "/", want: "/jail", wantPath: "."},
		{tree: tree, name: "d/f", want: "/jail/d/f", wantPath: "d/f"},
		{tree: tree, name: "/d//./e/../f", want: "/jail/d/f", wantPath: "d/f"},
		{tree: tree, name: "../../outside/secret", want: "file does not exist"},
		{tree: tree, name: "../../outside/secret/x", want: "file does not exist"},
		{tree: tree, name: "up/outside", want: "!/jail/outside"},
		{tree: tree, name: "up", follow: true, want: "/jail", wantPath: "."},
		{tree: tree, name: "up", want: "/jail/up", wantPath: "up"},
		{tree: tree, name: "abs", follow: true, want: "file does not exist"},
		{tree: tree, name: "../../outside", want: "!/jail/outside"},
		{tree: tree, name: "dots/secret", want: "file does not exist"},
		{tree: tree, name: "rel/g", want: "/jail/d/e/g", wantPath: "d/e/g"},
		{tree: tree, name: "rel/../f", want: "/jail/d/f", wantPath: "d/f"},
		{tree: tree, name: "rel/", want: "/jail/d/e", wantPath: "d/e"},
		{tree: tree, name: "loop", want: "/jail/loop", wantPath: "loop"},
		{tree: tree, name: "loop", follow: true, want: ErrLoop.Error()},
		{tree: tree, name: "a/x", want: ErrLoop.Error()},
		{tree: tree, name: "dangling", follow: true, want: "!/jail/nowhere"},
		{tree: tree, name: "dangling/x", want: "file does not exist"},
		{tree: tree, name: "empty", follow: true, want: "file does not exist"},
		{tree: tree, name: "d/f/x", want: ErrNotDir.Error()},
		{tree: tree, name: "d/f/", want: ErrNotDir.Error()},
		{tree: tree, name: "tofile/", want: ErrNotDir.Error()},
		{tree: tree, name: "d/f/..", want: ErrNotDir.Error()},
		{tree: tree, name: "new/", want: "!/jail/new"},
		{tree: tree, name: "new/.", want: "file does not exist"},
		{tree: tree, name: "d/new", want: "!/jail/d/new"},
		{tree: chain.String(), name: "l0", follow: true, want: "/jail/l40", wantPath: "l40"},
		{tree: chain.String(), name: "m", follow: true, want: ErrLoop.Error()},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s,%v", tc.name, tc.follow), func(t *testing.T) {
			w, err := Walk[string](newJail(tc.tree), tc.name, tc.follow)
			var got string
			switch {
			case err != nil:
				got = err.Error()
			case !w.Found:
				got = "!" + w.Node
			default:
				got = w.Node
			}
			if got != tc.want {
				t.Errorf("Walk(%q, %v) = %q, want %q", tc.name, tc.follow, got, tc.want)
			}
			if err == nil && w.Found && w.Path != tc.wantPath {
				t.Errorf("Walk(%q, %v).Path = %q, want %q", tc.name, tc.follow, w.Path, tc.wantPath)
			}
		})
	}
}

// FuzzWalk builds a tree from the fuzzer's lines ("name", "name ->target")
// inside /jail, next to a /outside, and walks a name through it. The walk
// must never reach a node outside /jail, must report the real path of what
// it reached, must give ErrLoop only past MaxLinks links, and must ask for
// a bounded number of lookups.
func FuzzWalk(f *testing.F) {
	f.Add("a ->../../outside\nb/c ->/../outside/secret\nd ->d", "a/secret", true)
	f.Add("x ->y\ny ->x\nz/w file", "z/../x/q", false)
	f.Add("l ->/..\nm ->l/../l/outside", "m/secret/", true)
	f.Add("s ->.\nt ->s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s/s", "t/t", true)
	f.Add("f file", "f/", false)
	f.Fuzz(func(t *testing.T, spec, name string, follow bool) {
		if len(spec) > 4096 || len(name) > 1024 {
			return
		}
		j := newJail(spec)
		w, err := Walk[string](j, name, follow)
		// Every element Walk looks up comes from the name or from one of at
		// most MaxLinks+1 link targets.
		longest := len(name)
		for _, v := range j.nodes {
			longest = max(longest, len(v))
		}
		if bound := (MaxLinks + 2) * (longest + 1); j.lookups > bound {
			t.Fatalf("%d lookups, more than %d", j.lookups, bound)
		}
		if errors.Is(err, ErrLoop) && j.links <= MaxLinks {
			t.Fatalf("ErrLoop after %d links", j.links)
		}
		if err != nil {
			if !errors.Is(err, ErrLoop) && !errors.Is(err, ErrNotDir) && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if w.Node != jailRoot && !strings.HasPrefix(w.Node, jailRoot+"/") {
			t.Fatalf("Walk(%q) escaped to %q", name, w.Node)
		}
		if want := strings.TrimPrefix(strings.TrimPrefix(w.Node, jailRoot), "/"); w.Found && w.Path != want && !(want == "" && w.Path == ".") {
			t.Fatalf("Walk(%q).Path = %q, want %q", name, w.Path, want)
		}
		if _, ok := j.nodes[w.Node]; ok != w.Found {
			t.Fatalf("Walk(%q): Found %v for %q", name, w.Found, w.Node)
		}
	})
}
