package shell

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wasmbox/wasmbox/shims/busybox/applets"
)

// fakeApplets stand in for the real ones, so these tests check the shell
// alone.
var fakeApplets = map[string]applets.Func{
	"upper": func(ctx context.Context, env *applets.Env, args []string) int {
		b, err := io.ReadAll(env.Stdin)
		if err != nil {
			fmt.Fprintln(env.Stderr, "upper:", err)
			return 1
		}
		env.Stdout.Write(bytes.ToUpper(b))
		return 0
	},
	"args": func(ctx context.Context, env *applets.Env, args []string) int {
		for _, a := range args {
			fmt.Fprintf(env.Stdout, "<%s>", a)
		}
		fmt.Fprintln(env.Stdout)
		return 0
	},
	"where": func(ctx context.Context, env *applets.Env, args []string) int {
		fmt.Fprintf(env.Stdout, "dir=%s PWD=%s\n", rel(env.Dir), rel(env.Getenv("PWD")))
		return 0
	},
	"getenv": func(ctx context.Context, env *applets.Env, args []string) int {
		for _, k := range args[1:] {
			v, ok := env.LookupEnv(k)
			fmt.Fprintf(env.Stdout, "%s=%q %v\n", k, v, ok)
		}
		return 0
	},
	"xexec": func(ctx context.Context, env *applets.Env, args []string) int {
		e := *env
		e.Environ = append(e.Environ, "XEXEC=1")
		return env.Exec(ctx, &e, args[1:])
	},
	"status": func(ctx context.Context, env *applets.Env, args []string) int {
		var n int
		fmt.Sscan(args[1], &n)
		return n
	},
	"boom": func(ctx context.Context, env *applets.Env, args []string) int {
		panic("boom")
	},
}

// testRoot is the fake box of the current test, for rel.
var testRoot string

// rel shortens paths under the test's fake box to /....
func rel(p string) string {
	if r, err := filepath.Rel(testRoot, p); err == nil && !strings.HasPrefix(r, "..") {
		return "/" + filepath.ToSlash(r)
	}
	return p
}

// setup lays out a fake box in a temp dir: bin/busybox (a plain file) with
// symlinks for the fake applets and sh, and returns the root.
func setup(t *testing.T) string {
	t.Helper()
	oldLookup, oldNames := lookupApplet, appletNames
	lookupApplet = func(name string) (applets.Func, bool) {
		f, ok := fakeApplets[name]
		return f, ok
	}
	appletNames = func() []string {
		var names []string
		for n := range fakeApplets {
			names = append(names, n)
		}
		return names
	}
	t.Cleanup(func() { lookupApplet, appletNames = oldLookup, oldNames })

	root := t.TempDir()
	root, _ = filepath.EvalSymlinks(root)
	testRoot = root
	for _, d := range []string{"bin", "usr/bin", "work/sub"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(root, name), []byte("\x00asm"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("bin/busybox", 0o755)
	write("bin/native", 0o755)  // executable, not the multi-call module: a child
	write("bin/notexec", 0o644) // found in PATH, no execute bit
	write("work/data", 0o644)
	write("work/binary", 0o755) // starts with \x00asm: a child
	scripts := map[string]string{
		"script":  "#!" + filepath.Join(root, "bin/sh") + "\necho script:$1\n",
		"args.sh": "#!" + filepath.Join(root, "bin/args") + "  -x y \n",
		"plain":   "echo plain $0 $1\n",
		"empty":   "",
	}
	for name, text := range scripts {
		if err := os.WriteFile(filepath.Join(root, "work", name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"sh", "upper", "args", "where", "getenv", "xexec", "status", "boom"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", n)); err != nil {
			t.Fatal(err)
		}
	}
	// A chain: /usr/bin/upper -> /bin/upper -> busybox.
	if err := os.Symlink(filepath.Join(root, "bin/upper"), filepath.Join(root, "usr/bin/upper")); err != nil {
		t.Fatal(err)
	}
	return root
}

// lockedBuffer is a bytes.Buffer that background jobs may write to
// concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type result struct {
	Stdout, Stderr string
	Status         int
}

func runMain(t *testing.T, root, stdin string, args ...string) result {
	t.Helper()
	var out, errOut lockedBuffer
	env := &applets.Env{
		Stdin:   strings.NewReader(stdin),
		Stdout:  &out,
		Stderr:  &errOut,
		Dir:     filepath.Join(root, "work"),
		Environ: []string{"PATH=" + filepath.Join(root, "bin") + ":" + filepath.Join(root, "usr/bin"), "HOME=/root", "UNEXPORTED_LATER=1"},
	}
	st := Multicall(context.Background(), env, args)
	return result{out.String(), errOut.String(), st}
}

func TestShell(t *testing.T) {
	tests := []struct {
		name   string
		script string
		stdin  string
		want   result
	}{
		{"pipe to an applet", `printf 'a\nb\n' | upper`, "", result{Stdout: "A\nB\n"}},
		{"longer pipeline", `echo hi | upper | args x`, "", result{Stdout: "<args><x>\n"}},
		{"pipe through a symlink chain", `echo hi | ../usr/bin/upper`, "", result{Stdout: "HI\n"}},
		{"stdin of the shell reaches applets", `upper`, "from stdin\n", result{Stdout: "FROM STDIN\n"}},
		{"redirections", `echo one > f; echo two >> f; upper < f; upper < f > g 2>&1; cat=$(upper < g); echo "$cat"`, "",
			result{Stdout: "ONE\nTWO\nONE\nTWO\n"}},
		{"stderr redirection", `args oops >&2; nosuch 2>/dev/null; echo $?`, "", result{Stdout: "127\n", Stderr: "<args><oops>\n"}},
		{"and or", `false && echo no || echo yes; true && echo also`, "", result{Stdout: "yes\nalso\n"}},
		{"subshell keeps the parent's state", `x=1; (x=2; cd sub; where); echo $x; where`, "",
			result{Stdout: "dir=/work/sub PWD=/work/sub\n1\ndir=/work PWD=/work\n"}},
		{"command substitution", `x=$(echo abc | upper); echo "[$x]" "$(args 1 2)"`, "", result{Stdout: "[ABC] <args><1><2>\n"}},
		{"here-document", "upper <<EOF\nhome $HOME\nEOF\nupper <<'EOF'\n$HOME\nEOF\nupper <<< word", "",
			result{Stdout: "HOME /ROOT\n$HOME\nWORD\n"}},
		{"functions", `f() { echo "f:$1"; return 3; }; f a; echo $?; g() { echo in | upper; }; g | args`, "",
			result{Stdout: "f:a\n3\n<args>\n"}},
		{"loops and read", `for i in 1 2 3; do echo $i >> n; done; while read l; do args "$l"; done < n; printf 'x y\n' | { read a b; echo "$b$a"; }`, "",
			result{Stdout: "<args><1>\n<args><2>\n<args><3>\nyx\n"}},
		{"exit status", `exit 3`, "", result{Status: 3}},
		{"status of the last command", `status 5`, "", result{Status: 5}},
		{"nested sh runs in-process", `sh -c 'exit 4'; echo $?; sh -c 'echo "$0 $1"' name arg`, "", result{Stdout: "4\nname arg\n"}},
		{"nested sh reads a pipe", `echo 'echo "$0:$1"; upper' | sh -s x`, "", result{Stdout: "sh:x\n"}},
		{"set -e", `set -e; echo a; false; echo no`, "", result{Stdout: "a\n", Status: 1}},
		{"trap EXIT", `trap 'echo bye' EXIT; echo hi; exit 2`, "", result{Stdout: "hi\nbye\n", Status: 2}},
		{"background jobs", `echo bg | upper > out & wait; upper < out; status 3 & wait $!; echo $?`, "", result{Stdout: "BG\n3\n"}},
		{"cd moves applets and children", `cd sub; where; cd ..; cd /; where`, "", result{Stdout: "dir=/work/sub PWD=/work/sub\ndir=/ PWD=/\n"}},
		{"exported variables only", `A=1; export B=2; C=3 getenv A B C HOME; unset HOME; getenv HOME`, "",
			result{Stdout: "A=\"\" false\nB=\"2\" true\nC=\"3\" true\nHOME=\"/root\" true\nHOME=\"\" false\n"}},
		{"not found", `nosuch arg`, "", result{Stderr: "sh: nosuch: not found\n", Status: 127}},
		{"not executable", `notexec; echo $?; ./data; echo $?; ./sub; echo $?`, "",
			result{Stdout: "126\n126\n126\n", Stderr: "sh: notexec: permission denied\nsh: ./data: permission denied\nsh: ./sub: is a directory\n"}},
		{"other programs need the host", `native`, "", result{Stderr: "sh: native: not supported (no wasmbox_proc host module)\n", Status: 126}},
		{"applets run commands through Env.Exec", `echo x | xexec upper; xexec getenv XEXEC PWD; xexec nosuch; echo $?`, "",
			result{Stdout: "X\nXEXEC=\"1\" true\nPWD=\"" + "/work" + "\" true\n127\n", Stderr: "nosuch: not found\n"}},
		{"busybox APPLET", `busybox args 1; /bin/busybox 2>/dev/null | upper | args`, "", result{Stdout: "<args><1>\n<args>\n"}},
		{"unknown applet behind a link", `ln=1; busybox nosuch`, "", result{Stderr: "nosuch: applet not found\n", Status: 127}},
		{"a panicking applet fails its command only", `boom 2>/dev/null; echo $?`, "", result{Stdout: "70\n"}},
		{"umask", `umask; umask 077; umask; umask -S; umask u=rwx; umask 999`, "",
			result{Stdout: "0022\n0077\nu=rwx,g=,o=\n", Stderr: "umask: 999: invalid mode\n", Status: 1}},
		{"ulimit", `ulimit -n; ulimit -n 1024 && echo set`, "", result{Stdout: "unlimited\nset\n"}},
		{"trap with signals", `trap 'echo cleanup' INT TERM EXIT HUP; trap - INT; trap 'echo x' QUIT; echo body`, "",
			result{Stdout: "body\ncleanup\n"}},
		{"trap 0", `trap 'echo zero' 0; echo body`, "", result{Stdout: "body\nzero\n"}},
		{"/dev/null and /dev/std*", `echo gone > /dev/null; upper < /dev/null; echo err > /dev/stderr; echo out > /dev/stdout; echo x | upper > /dev/fd/1; args y 2>/dev/null >&2`, "",
			result{Stdout: "out\nX\n", Stderr: "err\n"}},
		{"scripts for the multi-call module run in-process", `./script a; ./args.sh b; ./plain c; ./empty; echo $?; ./binary`, "",
			result{Stdout: "script:a\n</bin/args><-x y></work/args.sh><b>\nplain /work/plain c\n0\n", Stderr: "sh: ./binary: not supported (no wasmbox_proc host module)\n", Status: 126}},
		{"test -x sees modes", `test -x ../bin/native && echo x; test -x data || echo nox`, "", result{Stdout: "x\nnox\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := setup(t)
			got := runMain(t, root, tc.stdin, "sh", "-c", tc.script)
			got.Stdout = strings.ReplaceAll(got.Stdout, root, "")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("sh -c %q (-want +got):\n%s", tc.script, diff)
			}
		})
	}
}

func TestInvocation(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  result
	}{
		{"-c NAME ARGS", []string{"sh", "-c", `echo "$0|$1|$#|$*"`, "name", "a", "b c"}, "", result{Stdout: "name|a|2|a b c\n"}},
		{"-c without NAME", []string{"/bin/sh", "-c", `echo $0 $#`}, "", result{Stdout: "/bin/sh 0\n"}},
		{"script on stdin", []string{"sh"}, "echo \"$0\" ${0##*/}\nx=$(echo hi)\necho $x\n", result{Stdout: "sh sh\nhi\n"}},
		{"stdin script with -s args", []string{"ash", "-s", "p1", "p2"}, `echo "$1 $2 $#"`, result{Stdout: "p1 p2 2\n"}},
		{"stdin script exits", []string{"sh"}, "echo a\nexit 7\necho b\n", result{Stdout: "a\n", Status: 7}},
		{"stdin script: EXIT trap once, last status kept", []string{"sh"}, "trap 'echo bye' EXIT\necho a\nfalse\n", result{Stdout: "a\nbye\n", Status: 1}},
		{"stdin syntax error", []string{"sh"}, "echo a\nif then\n", result{Stdout: "a\n", Stderr: "sh: 2:1: `if` must be followed by a statement list\n", Status: 2}},
		{"script file", []string{"sh", "script.sh", "x"}, "", result{Stdout: "script.sh x\n"}},
		{"missing script file", []string{"sh", "nosuch.sh"}, "", result{Stderr: "sh: cannot open nosuch.sh: no such file or directory\n", Status: 127}},
		{"combined flags", []string{"sh", "-eu", "-c", `echo $nosuch; echo no`}, "", result{Stderr: "nosuch: unbound variable\n", Status: 1}},
		{"-o pipefail", []string{"sh", "-o", "pipefail", "-c", `status 3 | upper`}, "", result{Status: 3}},
		{"xtrace", []string{"sh", "-xc", `args 1`}, "", result{Stdout: "<args><1>\n", Stderr: "+ args 1\n"}},
		{"-c without a command", []string{"sh", "-c"}, "", result{Stderr: "sh: -c requires an argument\n", Status: 2}},
		{"bad option", []string{"sh", "-q"}, "", result{Stderr: "sh: -q: invalid option\n", Status: 2}},
		{"syntax error in -c", []string{"sh", "-c", "fi"}, "", result{Stderr: "sh: sh:1:1: `fi` can only be used to end an `if`\n", Status: 2}},
		{"busybox lists", []string{"busybox", "--list"}, "", result{Stdout: "args\nboom\ngetenv\nsh\nstatus\nupper\nwhere\nxexec\n"}},
		{"applet by its own name", []string{"/bin/upper"}, "abc", result{Stdout: "ABC"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := setup(t)
			if err := os.WriteFile(filepath.Join(root, "work/script.sh"), []byte(`echo "$0 $1"`), 0o644); err != nil {
				t.Fatal(err)
			}
			got := runMain(t, root, tc.stdin, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%q (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestManyLinesThroughPipes(t *testing.T) {
	root := setup(t)
	got := runMain(t, root, "", "sh", "-c", `i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done | upper | upper > big; while read a b; do n=$b; done < big; echo $n`)
	if got.Stdout != "1999\n" || got.Status != 0 {
		t.Errorf("got %+v", got)
	}
	f, err := os.Open(filepath.Join(root, "work/big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for s := bufio.NewScanner(f); s.Scan(); n++ {
	}
	if n != 2000 {
		t.Errorf("%d lines, want 2000", n)
	}
}

func TestUnwrapReader(t *testing.T) {
	type wrapper struct{ io.Reader }
	r := strings.NewReader("x")
	if got := unwrapReader(wrapper{r}); got != io.Reader(r) {
		t.Errorf("wrapper not unwrapped: %T", got)
	}
	if got := unwrapReader(r); got != io.Reader(r) {
		t.Errorf("plain reader changed: %T", got)
	}
	type other struct{ io.ReadCloser }
	rc := io.NopCloser(r)
	if got := unwrapReader(other{rc}); got == rc {
		t.Errorf("unrelated struct unwrapped")
	}
	if unwrapReader(nil) != nil {
		t.Errorf("nil not kept")
	}
}
