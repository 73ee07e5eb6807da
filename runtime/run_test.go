package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/runtime"
)

var sharedRT *runtime.Runtime

// compileCache is the tests' compilation cache directory (examples pass it
// to runtime.NewConfig, as a program would pass a directory it keeps).
var compileCache string

func TestMain(m *testing.M) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "wasmbox-compiled-")
	if err != nil {
		panic(err)
	}
	compileCache = dir
	sharedRT, err = runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(dir))
	if err != nil {
		panic(err)
	}
	code := m.Run()
	sharedRT.Close(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs args in a fresh overlay over the shell base.
func run(t *testing.T, o *runtime.Overlay, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if o == nil {
		o = runtime.NewOverlay(testutil.ShellBase(t))
	}
	var out, errb bytes.Buffer
	err := sharedRT.Run(context.Background(), o, runtime.Cmd{
		Args:   args,
		Env:    []string{"PATH=" + runtime.DefaultPath, "HOME=/root"},
		Dir:    "/",
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errb,
	})
	var ee *runtime.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if ee.Reason != "" {
			errb.WriteString(ee.Reason)
		}
	default:
		t.Fatalf("%q: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func TestRun(t *testing.T) {
	if os.Getenv("WASMBOX_HOST_SECRET") == "" {
		t.Setenv("WASMBOX_HOST_SECRET", "leak")
	}
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantOut    string
		wantErr    string // substring of stderr
		wantStatus int
	}{
		{name: "echo", args: []string{"echo", "hi"}, wantOut: "hi\n"},
		{name: "exit status", args: []string{"sh", "-c", "exit 3"}, wantStatus: 3},
		{name: "not found", args: []string{"nosuch"}, wantStatus: 127, wantErr: "nosuch"},
		{name: "stdin", stdin: "abc\n", args: []string{"sh", "-c", "tr a-z A-Z"}, wantOut: "ABC\n"},
		{name: "pipeline", args: []string{"sh", "-c", "printf 'b\\na\\n' | sort | tr a-z A-Z"}, wantOut: "A\nB\n"},
		{name: "redirections", args: []string{"sh", "-c", "for i in 1 2 3; do echo $i >> /tmp/f; done; wc -l < /tmp/f"}, wantOut: "3\n"},
		{name: "and or subshell", args: []string{"sh", "-c", "false || (cd /etc && pwd) && echo $(echo nested)"}, wantOut: "/etc\nnested\n"},
		{name: "heredoc", args: []string{"sh", "-c", "cat <<EOF\nx=$((1+2))\nEOF"}, wantOut: "x=3\n"},
		{name: "host env invisible", args: []string{"env"}, wantOut: "PATH=" + runtime.DefaultPath + "\nHOME=/root\nPWD=/\n"},
		{name: "shebang", args: []string{"sh", "-c", "printf '#!/bin/sh\\necho from script $1\\n' > /tmp/s && chmod +x /tmp/s && /tmp/s arg"}, wantOut: "from script arg\n"},
		{name: "native refused", args: []string{"sh", "-c", "printf '\\177ELFxxxx' > /tmp/n && chmod +x /tmp/n && /tmp/n"}, wantStatus: 126, wantErr: "native"},
		{name: "not executable", args: []string{"/etc/passwd"}, wantStatus: 126, wantErr: "permission denied"},
		{name: "child process pipes", args: []string{"sh", "-c", "cp /bin/busybox /usr/local/bin/sort && printf 'c\\nb\\na\\n' | sort | head -n 2"}, wantOut: "a\nb\n"},
		{name: "dev null", args: []string{"sh", "-c", "cat /dev/null /dev/null | wc -c && ls -l /dev/null | cut -c1"}, wantOut: "0\nc\n"},
		{name: "child exit status", args: []string{"sh", "-c", "cp /bin/busybox /usr/local/bin/grep; echo x | grep y; echo $?"}, wantOut: "1\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, status := run(t, nil, tc.stdin, tc.args...)
			if status != tc.wantStatus {
				t.Errorf("status %d, want %d (stderr %q)", status, tc.wantStatus, errOut)
			}
			if out != tc.wantOut && !(tc.wantOut == "" && tc.wantStatus != 0) {
				t.Errorf("stdout:\n got %q\nwant %q\nstderr %q", out, tc.wantOut, errOut)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.wantErr)
			}
		})
	}
}

func TestRunWritableLayerIsPerRun(t *testing.T) {
	base := testutil.ShellBase(t)
	o := runtime.NewOverlay(base)
	if _, e, st := run(t, o, "", "sh", "-c", "echo data > /root/f && mkdir -p /a/b && rm /etc/hostname"); st != 0 {
		t.Fatalf("status %d: %s", st, e)
	}
	if out, _, _ := run(t, o, "", "cat", "/root/f"); out != "data\n" {
		t.Errorf("same overlay: %q", out)
	}
	if _, _, st := run(t, runtime.NewOverlay(base), "", "cat", "/root/f"); st == 0 {
		t.Error("a new run sees the file of the previous one")
	}
	if out, _, _ := run(t, runtime.NewOverlay(base), "", "cat", "/etc/hostname"); out != "wasmbox\n" {
		t.Errorf("a new run: hostname %q", out)
	}
}

func TestRunOutputLarge(t *testing.T) {
	out, errOut, st := run(t, nil, "", "sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678; i=$((i+1)); done | cat")
	if st != 0 {
		t.Fatalf("status %d: %s", st, errOut)
	}
	if len(out) != 20000*110 {
		t.Errorf("got %d bytes, want %d", len(out), 20000*110)
	}
}

func BenchmarkRunTrue(b *testing.B) {
	rt, err := runtime.New(context.Background(), runtime.NewConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	base := testutil.ShellBase(b)
	ctx := context.Background()
	start := time.Now()
	if err := rt.Run(ctx, runtime.NewOverlay(base), runtime.Cmd{Args: []string{"true"}}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "first-ms")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rt.Run(ctx, runtime.NewOverlay(base), runtime.Cmd{Args: []string{"true"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// Hand-assembled modules for the failure cases of the runner.
var (
	wasmHeader = []byte("\x00asm\x01\x00\x00\x00")
	// _start executes `unreachable`.
	trapModule = append(append([]byte{}, wasmHeader...),
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
		0x03, 0x02, 0x01, 0x00, // func 0 of type 0
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export _start
		0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // body: unreachable
	)
	// imports nosuch.fn, which no host provides.
	unknownImportModule = append(append([]byte{}, wasmHeader...),
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
		0x02, 0x0d, 0x01, 0x06, 'n', 'o', 's', 'u', 'c', 'h', 0x02, 'f', 'n', 0x00, 0x00,
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00,
	)
)

func TestRunBadModules(t *testing.T) {
	tests := []struct {
		name       string
		code       []byte
		wantStatus int
		wantCause  runtime.Cause
		wantErr    string
	}{
		{"traps", trapModule, 134, runtime.CauseTrap, "crashed"},
		{"unknown import", unknownImportModule, 126, runtime.CauseNotExecutable, "nosuch"},
		{"truncated module", wasmHeader[:6], 126, runtime.CauseNotExecutable, "not a valid Wasm module"},
		{"garbage after magic", append(append([]byte{}, wasmHeader...), 0xff, 0xff, 0xff), 126, runtime.CauseNotExecutable, "not a valid Wasm module"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := runtime.NewOverlay(testutil.ShellBase(t))
			if err := o.WriteFile("/bin/prog", tc.code, 0o755); err != nil {
				t.Fatal(err)
			}
			err := sharedRT.Run(context.Background(), o, runtime.Cmd{Args: []string{"prog"}})
			var ee *runtime.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("got %v, want an *ExitError", err)
			}
			if ee.Code != tc.wantStatus || ee.Cause != tc.wantCause || !strings.Contains(ee.Reason, tc.wantErr) {
				t.Errorf("got %d (%v) %q; want %d (%v) and %q", ee.Code, ee.Cause, ee.Reason, tc.wantStatus, tc.wantCause, tc.wantErr)
			}
			// The runtime is still usable.
			if out, _, _ := run(t, nil, "", "echo", "alive"); out != "alive\n" {
				t.Errorf("after the failure: %q", out)
			}
		})
	}
}

// Stats.PeakMemory is the run's highest holding: its Wasm memory and the
// file data it wrote, also once the file is gone again; with a limit or
// without.
func TestRunStatsPeakMemory(t *testing.T) {
	base := testutil.ShellBase(t)
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	peak := func(script string, limits runtime.Limits) int64 {
		t.Helper()
		var st runtime.Stats
		if err := rt.Run(ctx, runtime.NewOverlay(base), runtime.Cmd{Args: []string{"sh", "-c", script}, Limits: limits, Stats: &st}); err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return st.PeakMemory
	}
	const mib = 1 << 20
	small := peak("true", runtime.Limits{})
	if small < mib {
		t.Errorf("true: peak %d, below the 1 MiB a Go module's memory takes at least", small)
	}
	// Streamed (yes | head): no process holds the 4 MiB, the file does.
	write := `yes aaaaaaaaaaaaaaa | head -c 4194304 > /tmp/f && rm /tmp/f`
	for _, l := range []runtime.Limits{{}, {Memory: 512 * mib}} {
		if big := peak(write, l); big < small+4*mib {
			t.Errorf("limits %+v: a 4 MiB file written and removed: peak %d, true's %d", l, big, small)
		}
	}
}
