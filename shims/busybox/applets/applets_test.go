package applets

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	f, ok := Lookup(args[0])
	if !ok {
		t.Fatalf("no applet %q", args[0])
	}
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Dir: dir, Environ: environ}
	code := f(context.Background(), env, args)
	return out.String(), errb.String(), code
}

func runTable(t *testing.T, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			setupFiles(t, dir, tc.files, tc.modes)
			out, errs, code := run(t, dir, tc.stdin, tc.env, tc.args...)
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
	for _, want := range []string{"cat", "sed", "grep"} {
		if _, ok := Lookup(want); !ok {
			t.Errorf("applet %q missing; have %v", want, names)
		}
	}
}
