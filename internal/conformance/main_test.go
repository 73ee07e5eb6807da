package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmbox/wasmbox/internal/testutil"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, log  string
		want       result
		wantStatus string
	}{
		{
			// test_shutil in a box, its middle cut, from before the box
			// had permission bits: test_copymode_follow_symlinks, which
			// passes now, is no longer a known failure.
			name: "shutil.log",
			want: result{run: 165, failed: 1, errors: 3, skipped: 52, sawSummary: true, exitCode: 2, failing: []string{
				"test.test_shutil.TestArchives.test_tarfile_vs_tar",
				"test.test_shutil.TestCopyTree.test_copytree_dangling_symlinks",
				"test.test_shutil.TestCopyTree.test_copytree_symlink_dir",
				"test.test_shutil.TestCopy.test_copymode_follow_symlinks",
			}},
			// Recorded before os.stat reported the box's modes: the
			// copymode test, which passes now, is no known failure.
			wantStatus: "FAIL",
		},
		{name: "crash.log", want: result{exitCode: 2}, wantStatus: "CRASH"}, // test_sqlite3 without _testcapi
		{
			name: "inline: fixtures, subtests, an unknown failure",
			log: "ERROR: setUpClass (test.test_x.Fixture)\n" +
				"FAIL: test_a (test.test_x.T.test_a) (n=1)\n" +
				"FAIL: test_a (test.test_x.T.test_a) (n=2)\n" +
				"Ran 3 tests in 0.1s\n\nFAILED (failures=2, errors=1, expected failures=1)\n",
			want: result{run: 3, failed: 2, errors: 1, expectedFailures: 1, sawSummary: true, exitCode: 2,
				failing: []string{"test.test_x.Fixture.setUpClass", "test.test_x.T.test_a"}},
			wantStatus: "FAIL",
		},
		{
			name:       "inline: ok",
			log:        "Ran 2 tests in 0.1s\n\nOK (skipped=1)\n",
			want:       result{run: 2, skipped: 1, sawSummary: true},
			wantStatus: "ok",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in io.Reader = strings.NewReader(tc.log)
			if tc.log == "" {
				f, err := os.Open(filepath.Join("testdata", tc.name))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				in = f
			}
			got := result{exitCode: tc.want.exitCode}
			if err := parse(in, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("parse (-want +got):\n%s", diff)
			}
			if s := got.status(); s != tc.wantStatus {
				t.Errorf("status %s, want %s", s, tc.wantStatus)
			}
		})
	}
}

// TestQuickModules runs the quick part of the slice (slice.go) in a real
// box with the real CLI (the full slice is make conformance). It needs the
// python stand-in and apt-get source the first time on a machine.
func TestQuickModules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a python box")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("no apt-get to fetch CPython's test suite with")
	}
	wasmbox := buildCLI(t)
	var progress strings.Builder
	base, results, err := run(context.Background(), config{
		wasmbox: wasmbox,
		shims:   testutil.ShimsDir(t),
		modules: quick,
		timeout: 5 * time.Minute,
		logs:    t.TempDir(),
		out:     &progress,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var table strings.Builder
	report(&table, base, results)
	for _, r := range results {
		if !r.passes() || r.run == 0 || r.passed() == 0 {
			log, _ := os.ReadFile(r.log)
			t.Errorf("%s: %s, %d run, %d passed\n%s\n%s", r.module, r.status(), r.run, r.passed(), table.String(), log)
		}
	}
	// test_decimal runs both implementations: _decimal's tests (C...)
	// and _pydecimal's (Py...), which the python base must ship.
	for _, r := range results {
		if !strings.HasPrefix(r.module, "test_decimal") {
			continue
		}
		log, _ := os.ReadFile(r.log)
		for _, impl := range []string{"C", "Py"} {
			re := regexp.MustCompile(`(?m)\(test\.test_decimal\.` + impl + `[A-Z]\w*\.test\w*\) \.\.\. ok$`)
			if n := len(re.FindAll(log, -1)); n < 10 {
				t.Errorf("test_decimal: %d tests of the %s implementation passed, want 10 or more", n, impl)
			}
		}
	}
	t.Logf("\n%s", table.String())
}
