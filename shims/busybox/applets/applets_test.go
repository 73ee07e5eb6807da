package applets

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testCase drives one applet invocation on a fresh directory.
type testCase struct {
	name  string
	args  []string
	stdin string
	env   []string
	// files to create first: "a/b" with content; "d/" a directory;
	// "l@" a symlink l to the value.
	files map[string]string
	// modes to set on created files.
	modes map[string]fs.FileMode
	// wantOut and wantErr are stdout and stderr; code is the status.
	wantOut string
	wantErr string
	code    int
	// after lists paths and what they must be after the run: content,
	// "<dir>", "<absent>", or "-> target" for a symlink.
	after map[string]string
	// anyErr skips the stderr comparison (but stderr must not be empty).
	anyErr bool
	// modesAfter lists permission bits paths must have after the run.
	modesAfter map[string]fs.FileMode
	// exec, when set, is Env.Exec.
	exec func(ctx context.Context, env *Env, args []string) int
}

// fixedTime is the modification time of created files.
var fixedTime = time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)

func setupFiles(t *testing.T, dir string, files map[string]string, modes map[string]fs.FileMode) {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := files[n]
		switch {
		case strings.HasSuffix(n, "/"):
			if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.HasSuffix(n, "@"):
			p := filepath.Join(dir, strings.TrimSuffix(n, "@"))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.Symlink(v, p); err != nil {
				t.Fatal(err)
			}
		default:
			p := filepath.Join(dir, n)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for n, m := range modes {
		if err := os.Chmod(filepath.Join(dir, n), m); err != nil {
			t.Fatal(err)
		}
	}
	// Stable times, oldest first in name order, for ls -t and find -newer.
	for i, n := range names {
		p := filepath.Join(dir, strings.TrimSuffix(n, "@"))
		tm := fixedTime.Add(time.Duration(i) * time.Minute)
		if strings.HasSuffix(n, "@") {
			continue
		}
		os.Chtimes(p, tm, tm)
	}
}

func run(t *testing.T, dir string, stdin string, environ []string, args ...string) (string, string, int) {
	t.Helper()
	return runExec(t, dir, stdin, environ, nil, args...)
}

func runExec(t *testing.T, dir string, stdin string, environ []string, exec func(context.Context, *Env, []string) int, args ...string) (string, string, int) {
	t.Helper()
	f, ok := Lookup(args[0])
	if !ok {
		t.Fatalf("no applet %q", args[0])
	}
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Dir: dir, Environ: environ, Exec: exec}
	code := f(context.Background(), env, args)
	return out.String(), errb.String(), code
}

func runTable(t *testing.T, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			setupFiles(t, dir, tc.files, tc.modes)
			out, errs, code := runExec(t, dir, tc.stdin, tc.env, tc.exec, tc.args...)
			if diff := cmp.Diff(tc.wantOut, strings.ReplaceAll(out, dir, "$DIR")); diff != "" {
				t.Errorf("%q stdout (-want +got):\n%s", tc.args, diff)
			}
			if tc.anyErr {
				if errs == "" {
					t.Errorf("%q: want an error message, got none", tc.args)
				}
			} else if diff := cmp.Diff(tc.wantErr, strings.ReplaceAll(errs, dir, "$DIR")); diff != "" {
				t.Errorf("%q stderr (-want +got):\n%s", tc.args, diff)
			}
			if code != tc.code {
				t.Errorf("%q: status %d, want %d", tc.args, code, tc.code)
			}
			checkAfter(t, dir, tc.after)
			for p, want := range tc.modesAfter {
				fi, err := os.Lstat(filepath.Join(dir, p))
				if err != nil {
					t.Errorf("%s: %v", p, err)
				} else if got := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); got != want {
					t.Errorf("%s: mode %v, want %v", p, got, want)
				}
			}
		})
	}
}

func checkAfter(t *testing.T, dir string, after map[string]string) {
	t.Helper()
	for p, want := range after {
		full := filepath.Join(dir, p)
		fi, err := os.Lstat(full)
		got := ""
		switch {
		case err != nil:
			got = "<absent>"
		case fi.IsDir():
			got = "<dir>"
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(full)
			got = "-> " + l
		default:
			b, _ := os.ReadFile(full)
			got = string(b)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s after the run (-want +got):\n%s", p, diff)
		}
	}
}

func TestNames(t *testing.T) {
	names := Names()
	for _, want := range strings.Fields(`ls cat echo printf mkdir rm rmdir cp mv ln touch chmod
		head tail wc grep sed sort uniq tr cut env pwd true false test [ sleep date basename
		dirname find xargs tee seq id whoami uname base64 sha256sum md5sum sha1sum stat
		readlink realpath mktemp yes nproc sync which hostname printenv expr du tar gzip
		gunzip zcat cmp comm nl paste rev tac fold`) {
		if _, ok := Lookup(want); !ok {
			t.Errorf("applet %q missing; have %v", want, names)
		}
	}
}

// fakeInfo makes a FileInfo deterministic: owner, link count and, for
// directories, size, as the box's metadata would give them.
type fakeInfo struct {
	fs.FileInfo
	st *syscall.Stat_t
}

func (f fakeInfo) Sys() any { return f.st }

// ModTime of a symlink, which the tests cannot set, is after all the
// other fixtures.
func (f fakeInfo) ModTime() time.Time {
	if f.Mode()&fs.ModeSymlink != 0 {
		return fixedTime.Add(time.Hour)
	}
	return f.FileInfo.ModTime()
}

func (f fakeInfo) Size() int64 {
	if f.IsDir() {
		return 4096
	}
	return f.FileInfo.Size()
}

// withBoxHooks replaces the platform hooks with ones reporting every file
// as owned by uid/gid with one link (two for directories), and the user
// databases with a small fixture, for the duration of the test.
func withBoxHooks(t *testing.T, uid, gid uint32) {
	t.Helper()
	wrap := func(stat func(string) (fs.FileInfo, error)) func(string) (fs.FileInfo, error) {
		return func(name string) (fs.FileInfo, error) {
			fi, err := stat(name)
			if err != nil {
				return nil, err
			}
			st := &syscall.Stat_t{Uid: uid, Gid: gid, Nlink: 1}
			if fi.IsDir() {
				st.Nlink = 2
			}
			return fakeInfo{fi, st}, nil
		}
	}
	oldL, oldS, oldP, oldG := Lstat, Stat, etcPasswd, etcGroup
	Lstat, Stat = wrap(os.Lstat), wrap(os.Stat)
	dir := t.TempDir()
	etcPasswd, etcGroup = filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	os.WriteFile(etcPasswd, []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(etcGroup, []byte("root:x:0:\napp:x:1000:\nstaff:x:50:app\n"), 0o644)
	t.Cleanup(func() { Lstat, Stat, etcPasswd, etcGroup = oldL, oldS, oldP, oldG })
}
