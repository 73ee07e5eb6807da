package applets

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// execRecorder is a fake Env.Exec: it records each command (with the
// directory and the variables that differ from the parent's) and prints
// "ran ARGS" on the command's stdout; "fail" exits 1, "missing" 127.
type execRecorder struct {
	calls []string
	dir   string
}

func (r *execRecorder) exec(ctx context.Context, env *Env, args []string) int {
	call := strings.Join(args, " ")
	if rel, err := filepath.Rel(r.dir, env.Dir); err == nil && rel != "." {
		call += " (in " + rel + ")"
	}
	r.calls = append(r.calls, call)
	fmt.Fprintf(env.Stdout, "ran %s\n", strings.Join(args, " "))
	if b, err := io.ReadAll(env.Stdin); err == nil && len(b) > 0 {
		fmt.Fprintf(env.Stdout, "stdin %q\n", b)
	}
	switch args[0] {
	case "fail":
		return 1
	case "missing":
		fmt.Fprintf(env.Stderr, "%s: not found\n", args[0])
		return 127
	case "printenv":
		for _, kv := range env.Environ {
			fmt.Fprintln(env.Stdout, kv)
		}
	}
	return 0
}

func TestExecUsers(t *testing.T) {
	files := map[string]string{"a": "1", "b/": "", "b/c": "2", "b/d.txt": "3"}
	for _, tc := range []struct {
		name      string
		args      []string
		stdin     string
		env       []string
		wantOut   string
		wantErr   string
		wantCalls []string
		code      int
	}{
		{name: "xargs default echo", args: []string{"xargs"}, stdin: "a b\nc\n",
			wantOut: "ran echo a b c\n", wantCalls: []string{"echo a b c"}},
		{name: "xargs -n", args: []string{"xargs", "-n", "2", "rm"}, stdin: "a b c",
			wantOut: "ran rm a b\nran rm c\n", wantCalls: []string{"rm a b", "rm c"}},
		{name: "xargs -I", args: []string{"xargs", "-I", "{}", "cp", "{}", "{}.bak"}, stdin: "a\n  b c\n",
			wantOut: "ran cp a a.bak\nran cp b c b c.bak\n", wantCalls: []string{"cp a a.bak", "cp b c b c.bak"}},
		{name: "xargs -0", args: []string{"xargs", "-0", "ls"}, stdin: "a b\x00c\x00",
			wantOut: "ran ls a b c\n", wantCalls: []string{"ls a b c"}},
		{name: "xargs -r empty", args: []string{"xargs", "-r", "rm"}, stdin: "  \n"},
		{name: "xargs empty runs once", args: []string{"xargs", "rm"}, stdin: "",
			wantOut: "ran rm\n", wantCalls: []string{"rm"}},
		{name: "xargs -t", args: []string{"xargs", "-t", "ls"}, stdin: "a",
			wantOut: "ran ls a\n", wantErr: "ls a\n", wantCalls: []string{"ls a"}},
		{name: "xargs quotes", args: []string{"xargs", "-n1", "echo"}, stdin: `"a b" c\ d 'e'`,
			wantOut: "ran echo a b\nran echo c d\nran echo e\n", wantCalls: []string{"echo a b", "echo c d", "echo e"}},
		{name: "xargs failure 123", args: []string{"xargs", "-n1", "fail"}, stdin: "a b",
			wantOut: "ran fail a\nran fail b\n", wantCalls: []string{"fail a", "fail b"}, code: 123},
		{name: "xargs not found stops", args: []string{"xargs", "-n1", "missing"}, stdin: "a b",
			wantOut: "ran missing a\n", wantErr: "missing: not found\n", wantCalls: []string{"missing a"}, code: 127},
		{name: "xargs commands get no stdin", args: []string{"xargs", "cat"}, stdin: "a",
			wantOut: "ran cat a\n", wantCalls: []string{"cat a"}},
		{name: "xargs unmatched quote", args: []string{"xargs"}, stdin: "a 'b",
			wantErr: "xargs: unmatched single quote; by default quotes are special to xargs unless you use the -0 option\n", code: 1,
			wantOut: "ran echo a\n", wantCalls: []string{"echo a"}},
		{name: "find -exec ;", args: []string{"find", ".", "-type", "f", "-exec", "cat", "{}", ";"},
			wantOut: "ran cat ./a\nran cat ./b/c\nran cat ./b/d.txt\n", wantCalls: []string{"cat ./a", "cat ./b/c", "cat ./b/d.txt"}},
		{name: "find -exec +", args: []string{"find", "b", "-type", "f", "-exec", "ls", "-l", "{}", "+"},
			wantOut: "ran ls -l b/c b/d.txt\n", wantCalls: []string{"ls -l b/c b/d.txt"}},
		{name: "find -exec in arg", args: []string{"find", "b", "-name", "*.txt", "-exec", "mv", "{}", "{}.old", ";"},
			wantOut: "ran mv b/d.txt b/d.txt.old\n", wantCalls: []string{"mv b/d.txt b/d.txt.old"}},
		{name: "find -exec as test", args: []string{"find", ".", "-type", "f", "-exec", "fail", "{}", ";", "-o", "-print"},
			wantOut: ".\nran fail ./a\n./a\n./b\nran fail ./b/c\n./b/c\nran fail ./b/d.txt\n./b/d.txt\n", wantCalls: []string{"fail ./a", "fail ./b/c", "fail ./b/d.txt"}},
		{name: "find -exec + failure", args: []string{"find", "a", "-exec", "fail", "{}", "+"},
			wantOut: "ran fail a\n", wantCalls: []string{"fail a"}, code: 1},
		{name: "find -execdir", args: []string{"find", "b", "-name", "c", "-execdir", "ls", "{}", ";"},
			wantOut: "ran ls ./c\n", wantCalls: []string{"ls ./c (in b)"}},
		{name: "env cmd", args: []string{"env", "-i", "A=1", "printenv"},
			wantOut: "ran printenv\nA=1\n", wantCalls: []string{"printenv"}},
		{name: "env adds", args: []string{"env", "B=2", "printenv"}, env: []string{"A=1", "B=1"},
			wantOut: "ran printenv\nA=1\nB=2\n", wantCalls: []string{"printenv"}},
		{name: "env -u", args: []string{"env", "-u", "A", "printenv"}, env: []string{"A=1", "B=1"},
			wantOut: "ran printenv\nB=1\n", wantCalls: []string{"printenv"}},
		{name: "env -C", args: []string{"env", "-C", "b", "pwd"},
			wantOut: "ran pwd\n", wantCalls: []string{"pwd (in b)"}},
		{name: "env status", args: []string{"env", "missing", "x"},
			wantOut: "ran missing x\n", wantErr: "missing: not found\n", wantCalls: []string{"missing x"}, code: 127},
		{name: "env -S", args: []string{"env", "-S", "python3 -u 'a b'", "script"},
			wantOut: "ran python3 -u a b script\n", wantCalls: []string{"python3 -u a b script"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			setupFiles(t, dir, files, nil)
			rec := &execRecorder{dir: dir}
			out, errs, code := runExec(t, dir, tc.stdin, tc.env, rec.exec, tc.args...)
			if diff := cmp.Diff(tc.wantOut, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantErr, errs); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCalls, rec.calls); diff != "" {
				t.Errorf("commands run (-want +got):\n%s", diff)
			}
			if code != tc.code {
				t.Errorf("status %d, want %d", code, tc.code)
			}
		})
	}
}

// Without Env.Exec, applets of the package still run in-process.
func TestExecFallback(t *testing.T) {
	out, errs, code := run(t, t.TempDir(), "a b\n", nil, "xargs", "-n1", "echo", "x")
	if out != "x a\nx b\n" || errs != "" || code != 0 {
		t.Errorf("xargs echo: %q %q %d", out, errs, code)
	}
	out, errs, code = run(t, t.TempDir(), "", nil, "env", "nosuchcommand")
	if code != 127 || errs != "env: nosuchcommand: No such file or directory\n" {
		t.Errorf("env nosuchcommand: %q %q %d", out, errs, code)
	}
}

var findFiles = map[string]string{
	"a.txt":       "hello",
	"b.sh":        "",
	"d/":          "",
	"d/c.txt":     "x",
	"d/e/":        "",
	"d/e/deep.go": "package x\n",
	"empty/":      "",
	"lnk@":        "a.txt",
}

func TestFind(t *testing.T) {
	runTable(t, []testCase{
		{name: "all", args: []string{"find"}, files: findFiles, wantOut: ".\n./a.txt\n./b.sh\n./d\n./d/c.txt\n./d/e\n./d/e/deep.go\n./empty\n./lnk\n"},
		{name: "dir", args: []string{"find", "d"}, files: findFiles, wantOut: "d\nd/c.txt\nd/e\nd/e/deep.go\n"},
		{name: "dir slash", args: []string{"find", "d/"}, files: findFiles, wantOut: "d/\nd/c.txt\nd/e\nd/e/deep.go\n"},
		{name: "-name", args: []string{"find", ".", "-name", "*.txt"}, files: findFiles, wantOut: "./a.txt\n./d/c.txt\n"},
		{name: "-iname", args: []string{"find", ".", "-iname", "*.TXT"}, files: findFiles, wantOut: "./a.txt\n./d/c.txt\n"},
		{name: "-type f", args: []string{"find", ".", "-type", "f"}, files: findFiles, wantOut: "./a.txt\n./b.sh\n./d/c.txt\n./d/e/deep.go\n"},
		{name: "-type d", args: []string{"find", ".", "-type", "d"}, files: findFiles, wantOut: ".\n./d\n./d/e\n./empty\n"},
		{name: "-type l", args: []string{"find", ".", "-type", "l"}, files: findFiles, wantOut: "./lnk\n"},
		{name: "-maxdepth", args: []string{"find", ".", "-maxdepth", "1", "-type", "d"}, files: findFiles, wantOut: ".\n./d\n./empty\n"},
		{name: "-mindepth", args: []string{"find", ".", "-mindepth", "2"}, files: findFiles, wantOut: "./d/c.txt\n./d/e\n./d/e/deep.go\n"},
		{name: "-path", args: []string{"find", ".", "-path", "./d/*", "-type", "f"}, files: findFiles, wantOut: "./d/c.txt\n./d/e/deep.go\n"},
		{name: "prune", args: []string{"find", ".", "-name", "d", "-prune", "-o", "-type", "f", "-print"}, files: findFiles, wantOut: "./a.txt\n./b.sh\n"},
		{name: "not", args: []string{"find", ".", "-type", "f", "!", "-name", "*.txt"}, files: findFiles, wantOut: "./b.sh\n./d/e/deep.go\n"},
		{name: "-not -a", args: []string{"find", "d", "-not", "-type", "d", "-a", "-name", "*.go"}, files: findFiles, wantOut: "d/e/deep.go\n"},
		{name: "or parens", args: []string{"find", ".", "(", "-name", "*.sh", "-o", "-name", "*.go", ")", "-print"}, files: findFiles, wantOut: "./b.sh\n./d/e/deep.go\n"},
		{name: "-empty", args: []string{"find", ".", "-empty"}, files: findFiles, wantOut: "./b.sh\n./empty\n"},
		{name: "-size", args: []string{"find", ".", "-type", "f", "-size", "+1c"}, files: findFiles, wantOut: "./a.txt\n./d/e/deep.go\n"},
		{name: "-size -1k", args: []string{"find", ".", "-type", "f", "-size", "-1k"}, files: findFiles, wantOut: "./b.sh\n"},
		{name: "-newer", args: []string{"find", ".", "-type", "f", "-newer", "d/c.txt"}, files: findFiles, wantOut: "./d/e/deep.go\n"},
		{name: "-print0", args: []string{"find", "d", "-type", "f", "-print0"}, files: findFiles, wantOut: "d/c.txt\x00d/e/deep.go\x00"},
		{name: "-printf", args: []string{"find", "d", "-type", "f", "-printf", "%p %f %h %s %d %y %P\\n"}, files: findFiles, wantOut: "d/c.txt c.txt d 1 1 f c.txt\nd/e/deep.go deep.go d/e 10 2 f e/deep.go\n"},
		{name: "-delete", args: []string{"find", "d", "-name", "*.txt", "-delete"}, files: findFiles, after: map[string]string{"d/c.txt": "<absent>", "d/e/deep.go": "package x\n"}},
		{name: "-delete tree", args: []string{"find", "d", "-delete"}, files: findFiles, after: map[string]string{"d": "<absent>"}},
		{name: "-quit", args: []string{"find", ".", "-name", "*.txt", "-print", "-quit"}, files: findFiles, wantOut: "./a.txt\n"},
		{name: "-regex", args: []string{"find", ".", "-regex", `.*\.\(sh\|go\)`}, files: findFiles, wantOut: "./b.sh\n./d/e/deep.go\n"},
		{name: "-L", args: []string{"find", "-L", ".", "-name", "lnk", "-type", "f"}, files: findFiles, wantOut: "./lnk\n"},
		{name: "-perm", args: []string{"find", ".", "-type", "f", "-perm", "-u+x"}, files: findFiles, modes: map[string]fs.FileMode{"b.sh": 0o755}, wantOut: "./b.sh\n"},
		{name: "missing", args: []string{"find", "nope"}, wantErr: "find: 'nope': No such file or directory\n", code: 1},
		{name: "unknown", args: []string{"find", ".", "-bogus"}, wantErr: "find: unknown predicate `-bogus'\n", code: 1},
		{name: "missing arg", args: []string{"find", ".", "-name"}, wantErr: "find: missing argument to `-name'\n", code: 1},
		{name: "missing ;", args: []string{"find", ".", "-exec", "ls"}, wantErr: "find: missing argument to `-exec'\n", code: 1},
	})
}

func TestArchives(t *testing.T) {
	dir := t.TempDir()
	setupFiles(t, dir, map[string]string{"src/a": "hello\n", "src/sub/b": "world\n", "src/l@": "a", "big": strings.Repeat("x", 100000)},
		map[string]fs.FileMode{"src/sub/b": 0o751})
	steps := []struct {
		args    []string
		wantOut string
	}{
		{[]string{"tar", "czf", "a.tgz", "src"}, ""},
		{[]string{"tar", "tzf", "a.tgz"}, "src/\nsrc/a\nsrc/l\nsrc/sub/\nsrc/sub/b\n"},
		{[]string{"tar", "tf", "a.tgz"}, "src/\nsrc/a\nsrc/l\nsrc/sub/\nsrc/sub/b\n"},
		{[]string{"mkdir", "out"}, ""},
		{[]string{"tar", "-xzvf", "a.tgz", "-C", "out", "--strip-components=1"}, "src/a\nsrc/l\nsrc/sub/\nsrc/sub/b\n"},
		{[]string{"cat", "out/sub/b", "out/l"}, "world\nhello\n"},
		{[]string{"tar", "-c", "-f", "b.tar", "-C", "src", "."}, ""},
		{[]string{"tar", "xOf", "b.tar", "./sub/b"}, "world\n"},
		{[]string{"gzip", "big"}, ""},
		{[]string{"ls", "big", "big.gz"}, "big.gz\n"},
		{[]string{"gunzip", "-k", "big.gz"}, ""},
		{[]string{"wc", "-c", "big"}, "100000 big\n"},
		{[]string{"zcat", "big.gz"}, strings.Repeat("x", 100000)},
	}
	for _, s := range steps {
		out, errs, code := run(t, dir, "", nil, s.args...)
		if code != 0 && !(s.args[0] == "ls") {
			t.Fatalf("%q: status %d: %s", s.args, code, errs)
		}
		if diff := cmp.Diff(s.wantOut, out); diff != "" {
			t.Errorf("%q stdout (-want +got):\n%s", s.args, diff)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "out/sub/b")); err != nil || fi.Mode().Perm() != 0o751 {
		t.Errorf("extracted mode: %v %v", fi, err)
	}
	// Bad input is an error, not a panic.
	os.WriteFile(filepath.Join(dir, "junk.tar"), bytes.Repeat([]byte("junk"), 300), 0o644)
	if _, errs, code := run(t, dir, "", nil, "tar", "tf", "junk.tar"); code != 2 || !strings.Contains(errs, "does not look like a tar archive") {
		t.Errorf("tar tf junk: %d %q", code, errs)
	}
	if _, errs, code := run(t, dir, "", nil, "gunzip", "-c", "junk.tar"); code != 1 || errs != "gunzip: junk.tar: not in gzip format\n" {
		t.Errorf("gunzip junk: %d %q", code, errs)
	}
	// Members with ".." are refused.
	var buf bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &buf, Stderr: io.Discard, Dir: dir}
	tarApplet(context.Background(), env, []string{"tar", "cf", "-", "src/a"})
	evil := bytes.Replace(buf.Bytes(), []byte("src/a"), []byte("../xa"), 1)
	// Fix the header checksum after the edit.
	fixTarChecksum(evil[:512])
	_, errs, code := runExec(t, filepath.Join(dir, "out"), string(evil), nil, nil, "tar", "xf", "-")
	if code != 2 || !strings.Contains(errs, "Member name contains '..'") {
		t.Errorf("tar x ../: %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "xa")); err == nil {
		t.Errorf("tar wrote outside its directory")
	}
}

func fixTarChecksum(h []byte) {
	for i := 148; i < 156; i++ {
		h[i] = ' '
	}
	sum := 0
	for _, b := range h {
		sum += int(b)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
}

func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Dir: "/"}
	if code := sleep(ctx, env, []string{"sleep", "10"}); code == 0 {
		t.Errorf("sleep cancelled: status 0")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("sleep did not stop with its context")
	}
	if code := sleep(context.Background(), env, []string{"sleep", "0.01", "0.001s"}); code != 0 {
		t.Errorf("sleep 0.01: %d", code)
	}
	var errb bytes.Buffer
	env.Stderr = &errb
	if code := sleep(context.Background(), env, []string{"sleep", "1x"}); code != 1 || errb.String() != "sleep: invalid time interval '1x'\n" {
		t.Errorf("sleep 1x: %d %q", code, errb.String())
	}
}

// brokenWriter fails like a pipe whose reader went away.
type brokenWriter struct{ n int }

func (b *brokenWriter) Write(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.ErrClosedPipe
	}
	b.n -= len(p)
	return len(p), nil
}

func TestBrokenPipe(t *testing.T) {
	for _, args := range [][]string{{"yes"}, {"seq", "1", "100000000"}, {"cat"}} {
		var errb bytes.Buffer
		env := &Env{Stdin: strings.NewReader(strings.Repeat("line\n", 100000)), Stdout: &brokenWriter{n: 100}, Stderr: &errb, Dir: "/"}
		f, _ := Lookup(args[0])
		done := make(chan int)
		go func() { done <- f(context.Background(), env, args) }()
		select {
		case code := <-done:
			if code != 141 || errb.Len() != 0 {
				t.Errorf("%q on a broken pipe: status %d, stderr %q", args, code, errb.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q did not stop on a broken pipe", args)
		}
	}
}

func TestEnvironment(t *testing.T) {
	environ := []string{"PATH=/bin:/usr/bin", "HOME=/root", "A=1", "A=2"}
	runTable(t, []testCase{
		{name: "env prints", args: []string{"env"}, env: environ, wantOut: "PATH=/bin:/usr/bin\nHOME=/root\nA=1\nA=2\n"},
		{name: "env -i", args: []string{"env", "-i", "X=1", "Y=2"}, env: environ, wantOut: "X=1\nY=2\n"},
		{name: "printenv name", args: []string{"printenv", "HOME", "A"}, env: environ, wantOut: "/root\n2\n"},
		{name: "printenv missing", args: []string{"printenv", "NOPE"}, env: environ, code: 1},
		{name: "pwd", args: []string{"pwd"}, wantOut: "$DIR\n"},
		{name: "id", args: []string{"id"}, wantOut: "uid=0(root) gid=0(root) groups=0(root)\n"},
		{name: "id -u", args: []string{"id", "-u"}, wantOut: "0\n"},
		{name: "id -un", args: []string{"id", "-un"}, wantOut: "root\n"},
		{name: "id -gn", args: []string{"id", "-gn"}, wantOut: "root\n"},
		{name: "which", args: []string{"which", "sh", "nope"}, env: []string{"PATH=bin:other"}, files: map[string]string{"bin/sh": "", "other/sh": ""},
			modes: map[string]fs.FileMode{"bin/sh": 0o755, "other/sh": 0o755}, wantOut: "bin/sh\n", code: 1},
		{name: "which -a", args: []string{"which", "-a", "sh"}, env: []string{"PATH=bin:other:x"}, files: map[string]string{"bin/sh": "", "other/sh": "", "x/sh": ""},
			modes: map[string]fs.FileMode{"bin/sh": 0o755, "other/sh": 0o755}, wantOut: "bin/sh\nother/sh\n"},
		{name: "tee", args: []string{"tee", "f", "g"}, stdin: "hi\n", wantOut: "hi\n", after: map[string]string{"f": "hi\n", "g": "hi\n"}},
		{name: "tee -a", args: []string{"tee", "-a", "f"}, stdin: "more\n", files: map[string]string{"f": "hi\n"}, wantOut: "more\n", after: map[string]string{"f": "hi\nmore\n"}},
		{name: "tee bad file", args: []string{"tee", "nodir/f"}, stdin: "x", wantOut: "x", wantErr: "tee: nodir/f: No such file or directory\n", code: 1},
		{name: "readlink", args: []string{"readlink", "l"}, files: map[string]string{"l@": "target"}, wantOut: "target\n"},
		{name: "readlink -f", args: []string{"readlink", "-f", "l"}, files: map[string]string{"d/": "", "d/t": "", "l@": "d/../d/t"}, wantOut: "$DIR/d/t\n"},
		{name: "readlink -f physical", args: []string{"readlink", "-f", "ld/../t"}, files: map[string]string{"a/b/": "", "a/t": "", "ld@": "a/b"}, wantOut: "$DIR/a/t\n"},
		{name: "realpath", args: []string{"realpath", "l", "."}, files: map[string]string{"f": "", "l@": "f"}, wantOut: "$DIR/f\n$DIR\n"},
		{name: "realpath -m", args: []string{"realpath", "-m", "x/../y"}, wantOut: "$DIR/y\n"},
		{name: "realpath loop", args: []string{"realpath", "a"}, files: map[string]string{"a@": "b", "b@": "a"}, wantErr: "realpath: a: Too many levels of symbolic links\n", code: 1},
		{name: "mktemp bad", args: []string{"mktemp", "fooXX"}, wantErr: "mktemp: too few X's in template 'fooXX'\n", code: 1},
		{name: "hostname", args: []string{"hostname"}, env: []string{"HOSTNAME=box"}, wantOut: "box\n"},
	})
	dir := t.TempDir()
	out, errs, code := run(t, dir, "", []string{"TMPDIR=" + dir}, "mktemp", "-d")
	fi, err := os.Stat(strings.TrimSpace(out))
	if code != 0 || err != nil || !fi.IsDir() || !strings.HasPrefix(out, dir+"/tmp.") || len(strings.TrimSpace(out)) != len(dir)+15 {
		t.Errorf("mktemp -d: %q %q %d %v", out, errs, code, err)
	}
	out, _, code = run(t, dir, "", nil, "mktemp", "-p", dir, "x.XXXXX.txt")
	if code != 0 || !strings.HasPrefix(out, dir+"/x.") || !strings.HasSuffix(out, ".txt\n") {
		t.Errorf("mktemp -p: %q %d", out, code)
	}
}

func TestDateNow(t *testing.T) {
	old := now
	now = func() time.Time { return time.Date(2026, 11, 21, 22, 35, 0, 0, time.UTC) }
	t.Cleanup(func() { now = old })
	runTable(t, []testCase{
		{name: "default", args: []string{"date"}, wantOut: "Sat Nov 21 22:35:00 UTC 2026\n"},
		{name: "-u", args: []string{"date", "-u", "+%s"}, wantOut: "1795300500\n"},
		{name: "single-digit day", args: []string{"date", "-d", "2026-11-01"}, wantOut: "Sun Nov  1 00:00:00 UTC 2026\n"},
		{name: "relative", args: []string{"date", "-d", "yesterday", "+%F"}, wantOut: "2026-11-20\n"},
		{name: "ago", args: []string{"date", "-d", "2 hours ago", "+%T"}, wantOut: "20:35:00\n"},
		{name: "-I", args: []string{"date", "-I"}, wantOut: "2026-11-21\n"},
		{name: "-R", args: []string{"date", "-R"}, wantOut: "Sat, 21 Nov 2026 22:35:00 +0000\n"},
		{name: "-s", args: []string{"date", "-s", "x"}, wantErr: "date: cannot set date: Operation not permitted\n", code: 1},
	})
}

func TestMainDispatch(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantOut string
		code    int
	}{
		{[]string{"/bin/echo", "hi"}, "hi\n", 0},
		{[]string{"busybox", "echo", "hi"}, "hi\n", 0},
		{[]string{"/bin/busybox", "basename", "/a/b"}, "b\n", 0},
		{[]string{"nosuch"}, "", 127},
	} {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Dir: "/"}
		if code := Main(context.Background(), env, tc.args); code != tc.code || out.String() != tc.wantOut {
			t.Errorf("Main(%q) = %d %q %q", tc.args, code, out.String(), errb.String())
		}
	}
	var out bytes.Buffer
	Main(context.Background(), &Env{Stdout: &out, Stderr: io.Discard}, []string{"busybox", "--list"})
	if !strings.Contains(out.String(), "\nsed\n") {
		t.Errorf("busybox --list: %q", out.String())
	}
}

func TestTimeout(t *testing.T) {
	slow := func(ctx context.Context, env *Env, args []string) int {
		select {
		case <-ctx.Done():
			return 143
		case <-time.After(5 * time.Second):
			return 0
		}
	}
	var errb bytes.Buffer
	env := &Env{Stdout: io.Discard, Stderr: &errb, Dir: "/", Exec: slow}
	start := time.Now()
	if code := timeout(context.Background(), env, []string{"timeout", "0.05", "slow"}); code != 124 {
		t.Errorf("timeout: status %d, want 124", code)
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("timeout did not end the command")
	}
	env.Exec = func(context.Context, *Env, []string) int { return 3 }
	if code := timeout(context.Background(), env, []string{"timeout", "5s", "quick"}); code != 3 {
		t.Errorf("timeout quick: status %d, want 3", code)
	}
	if code := timeout(context.Background(), env, []string{"timeout", "x", "quick"}); code != 125 {
		t.Errorf("timeout x: status %d, want 125", code)
	}
}

// tail -f follows a growing file until its context ends (tail -f
// /dev/null keeps a box alive).
func TestTailFollow(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log")
	os.WriteFile(p, []byte("a\nb\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	env := &Env{Stdout: &out, Stderr: io.Discard, Dir: dir}
	done := make(chan int)
	go func() { done <- tail(ctx, env, []string{"tail", "-n1", "-f", "-s", "0.01", "log"}) }()
	time.Sleep(50 * time.Millisecond)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("c\n")
	f.Close()
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "b\nc\n" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("tail -f did not stop with its context")
	}
	if got := out.String(); got != "b\nc\n" {
		t.Errorf("tail -f output %q, want %q", got, "b\nc\n")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// head leaves a seekable stdin just after what it printed.
func TestHeadLeavesRest(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("one\ntwo\nthree\n"), 0o644)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	env := &Env{Stdin: f, Stdout: &out, Stderr: io.Discard, Dir: "/"}
	head(context.Background(), env, []string{"head", "-n1"})
	cat(context.Background(), env, []string{"cat"})
	if out.String() != "one\ntwo\nthree\n" {
		t.Errorf("head -n1; cat: %q", out.String())
	}
}
