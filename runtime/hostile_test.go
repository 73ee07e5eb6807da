package runtime_test

// The hostile suite: boxes that try to get out, to exhaust the runner, or
// to crash it. Each case checks containment, the exit status, and that the
// runner still runs a box afterwards.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goruntime "runtime"

	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/runtime"
)

// result is how a hostile run ended.
type result struct {
	stdout, stderr string
	code           int
	cause          runtime.Cause
	err            error // not an *ExitError
}

func hostileRun(t *testing.T, rt *runtime.Runtime, ctx context.Context, o *runtime.Overlay, cmd runtime.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	cmd.Stderr = &errb
	if cmd.Env == nil {
		cmd.Env = []string{"PATH=" + runtime.DefaultPath}
	}
	err := rt.Run(ctx, o, cmd)
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *runtime.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code, r.cause = ee.ExitCode(), ee.Cause
		r.stderr += ee.Reason
	default:
		r.err = err
	}
	return r
}

// stillRuns checks the runner runs a box after a hostile one.
func stillRuns(t *testing.T, rt *runtime.Runtime) {
	t.Helper()
	r := hostileRun(t, rt, context.Background(), runtime.NewOverlay(testutil.ShellBase(t)), runtime.Cmd{Args: []string{"echo", "still here"}})
	if r.err != nil || r.code != 0 || r.stdout != "still here\n" {
		t.Fatalf("the runner no longer runs boxes: %+v", r)
	}
}

func shellBox(t *testing.T) *runtime.Overlay { return runtime.NewOverlay(testutil.ShellBase(t)) }

func TestHostileProbes(t *testing.T) {
	t.Setenv("WASMBOX_HOSTILE_HOST_SECRET", "host-secret-value")
	r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{Args: []string{"sh", "-c", `
		env; echo "proc: $(ls -A /proc /sys 2>/dev/null | grep -v ':$' | grep .)"; ls -a /dev
		for f in /proc/self/environ /proc/1/cmdline /proc/cpuinfo /sys/kernel/hostname /etc/hostname /dev/sda /dev/mem /dev/tty /dev/urandom; do
			cat $f 2>/dev/null && echo "READ $f"
		done; true`}})
	if r.err != nil || r.code != 0 {
		t.Fatalf("probe: %+v", r)
	}
	for _, leak := range []string{"host-secret-value", "READ /proc", "READ /sys", "READ /dev/sda", "READ /dev/mem"} {
		if strings.Contains(r.stdout, leak) {
			t.Errorf("the box saw %q:\n%s", leak, r.stdout)
		}
	}
	if host, err := os.ReadFile("/etc/hostname"); err == nil && len(bytes.TrimSpace(host)) > 0 && strings.Contains(r.stdout, string(bytes.TrimSpace(host))+"\n") {
		t.Errorf("the box printed the host's name %q", bytes.TrimSpace(host))
	}
	if !strings.Contains(r.stdout, "proc: \n") {
		t.Errorf("/proc or /sys of the box is not empty:\n%s", r.stdout)
	}
	stillRuns(t, sharedRT)
}

func TestHostileHardLinkOut(t *testing.T) {
	granted, secret := hostile(t)
	hd, err := runtime.OpenHostDir(granted)
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
		Args:   []string{"sh", "-c", "ln /work/../../../secret /work/h; ln /work/abs /work/h2; cat /work/h /work/h2; echo written >> /work/h2; true"},
		Mounts: []runtime.Mount{{Target: "/work", Volume: hd}},
	})
	if strings.Contains(r.stdout, "HOST-SECRET") {
		t.Errorf("a hard link made by the box reached the host secret: %q", r.stdout)
	}
	if b, _ := os.ReadFile(secret); string(b) != "HOST-SECRET\n" {
		t.Errorf("the host secret changed: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(granted, "h")); err == nil {
		t.Error("a hard link to a file outside the mount was made")
	}
	stillRuns(t, sharedRT)
}

// An infinite loop ends by the context: at once with an interruptible
// runtime, at the next system call otherwise.
func TestHostileInfiniteLoop(t *testing.T) {
	ctx := context.Background()
	irt, err := runtime.New(ctx, runtime.NewConfig().WithInterruptible(true).WithCompilationCacheDir(compileCache))
	if err != nil {
		t.Fatal(err)
	}
	defer irt.Close(ctx)
	for _, c := range []struct {
		name   string
		rt     *runtime.Runtime
		script string
	}{
		{"interruptible, no system calls", irt, "while :; do :; done"},
		{"default, with system calls", sharedRT, "while :; do echo x > /dev/null; done"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Compile sh first: the bound below is on ending the run,
			// not on compiling busybox for a fresh Runtime.
			hostileRun(t, c.rt, ctx, shellBox(t), runtime.Cmd{Args: []string{"true"}})
			tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			start := time.Now()
			r := hostileRun(t, c.rt, tctx, shellBox(t), runtime.Cmd{Args: []string{"sh", "-c", c.script}})
			if r.code != runtime.ExitKilled || r.cause != runtime.CauseTimeLimit || !strings.Contains(r.stderr, "time limit reached") {
				t.Errorf("got %+v, want 137 and a time limit", r)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("ended after %v", d)
			}
			stillRuns(t, c.rt)
		})
	}
}

func TestHostileMemoryBombs(t *testing.T) {
	limits := runtime.Limits{Memory: 64 << 20}
	t.Run("python", func(t *testing.T) {
		r := hostileRun(t, sharedRT, context.Background(), runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{
			Args:   []string{"python3", "-c", "b = []\nwhile True: b.append(bytearray(8 << 20))"},
			Limits: limits,
		})
		if r.code != runtime.ExitKilled || r.cause != runtime.CauseMemoryLimit || !strings.Contains(r.stderr, "memory limit of 64 MiB reached") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("go", func(t *testing.T) {
		o := shellBox(t)
		if err := o.WriteFile("/bin/membomb", goWasm(t, membombSrc), 0o755); err != nil {
			t.Fatal(err)
		}
		r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"membomb"}, Limits: limits})
		if r.code != runtime.ExitKilled || r.cause != runtime.CauseMemoryLimit || !strings.Contains(r.stderr, "memory limit of 64 MiB reached") {
			t.Errorf("got code %d, stderr %.500s", r.code, r.stderr)
		}
	})
	t.Run("huge minimum", func(t *testing.T) {
		o := shellBox(t)
		// (memory 65536): 4 GiB before the first instruction.
		if err := o.WriteFile("/bin/huge", wasmModule(65536, ""), 0o755); err != nil {
			t.Fatal(err)
		}
		r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"huge"}, Limits: limits})
		if r.code != runtime.ExitKilled || r.cause != runtime.CauseMemoryLimit || !strings.Contains(r.stderr, "needs 4096 MiB to start") {
			t.Errorf("got %+v", r)
		}
	})
	stillRuns(t, sharedRT)
}

const membombSrc = `package main

import "fmt"

func main() {
	var keep [][]byte
	for i := 0; ; i++ {
		b := make([]byte, 4<<20)
		for j := range b {
			b[j] = byte(i)
		}
		keep = append(keep, b)
		if i%16 == 0 {
			fmt.Println(len(keep)*4, "MiB")
		}
	}
}
`

// goWasm builds a Go program for wasip1.
func goWasm(t *testing.T, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module bomb\n\ngo 1.24\n"), 0o644)
	cmd := exec.Command("go", "build", "-o", "bomb.wasm", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Go module: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bomb.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wasmModule assembles a module with an empty _start, a memory of
// minPages (exported as "memory") and, when importName is set, an import
// of a function of that name from module "evil".
func wasmModule(minPages uint32, importName string) []byte {
	uleb, str, section := wasmULEB, wasmString, wasmSection
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(1, []byte{1, 0x60, 0, 0})...) // type 0: () -> ()
	startIdx := uint32(0)
	if importName != "" {
		imp := append([]byte{1}, str("evil")...)
		imp = append(append(imp, str(importName)...), 0, 0)
		m = append(m, section(2, imp)...)
		startIdx = 1
	}
	m = append(m, section(3, []byte{1, 0})...)                            // one function of type 0
	m = append(m, section(5, append([]byte{1, 0}, uleb(minPages)...))...) // memory min
	exp := append([]byte{2}, str("_start")...)
	exp = append(append(exp, 0), uleb(startIdx)...)
	exp = append(append(exp, str("memory")...), 2, 0)
	m = append(m, section(7, exp)...)
	m = append(m, section(10, []byte{1, 2, 0, 0x0b})...) // body: end
	return m
}

func TestHostileModules(t *testing.T) {
	o := shellBox(t)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(o.WriteFile("/bin/notwasm", []byte("\x01\x00garbage that is no module"), 0o755))
	must(o.WriteFile("/bin/badwasm", []byte("\x00asm\x01\x00\x00\x00\x05\xff\xff\xff"), 0o755))
	must(o.WriteFile("/bin/evil", wasmModule(1, "steal_host_files"), 0o755))
	// 14 bytes whose export section claims 100 million entries: wazero
	// v1.12 spends 13 s and 3.5 GB before it refuses them.
	must(o.WriteFile("/bin/countbomb", []byte("\x00asm\x01\x00\x00\x00\x07\x04\x80\xc2\xd7\x2f"), 0o755))
	must(o.WriteFile("/bin/ok", wasmModule(1, ""), 0o755))
	for _, c := range []struct {
		prog string
		code int
		msg  string
	}{
		{"notwasm", 126, "neither a Wasm module nor a #! script"},
		{"nosuchprog", 127, "command not found"},
		{"badwasm", 126, "not a valid Wasm module"},
		{"evil", 126, "cannot execute"},
		{"countbomb", 126, "100000000 exports: more than the section can hold"},
		{"ok", 0, ""},
	} {
		r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{c.prog}})
		wantCause := map[int]runtime.Cause{0: runtime.CauseExit, 126: runtime.CauseNotExecutable, 127: runtime.CauseNotFound}[c.code]
		if r.err != nil || r.code != c.code || r.cause != wantCause || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%s: got %+v, want %d and %q", c.prog, r, c.code, c.msg)
		}
		// Started by the shell, as a child.
		r = hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"sh", "-c", c.prog}})
		if r.err != nil || r.code != c.code {
			t.Errorf("sh -c %s: got %+v, want %d", c.prog, r, c.code)
		}
	}
	stillRuns(t, sharedRT)
}

func TestHostileProcessBomb(t *testing.T) {
	start := time.Now()
	r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
		Args:   []string{"sh", "-c", `f() { sh -c "sleep 5" & f; }; f`},
		Limits: runtime.Limits{Processes: 16},
	})
	if r.code != runtime.ExitKilled || r.cause != runtime.CauseProcessLimit || !strings.Contains(r.stderr, "process limit of 16 reached") {
		t.Errorf("got %+v", r)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the bomb ended after %v", d)
	}
	// Children spawned as instances count too.
	o := shellBox(t)
	if err := o.WriteFile("/bin/ok", wasmModule(1, ""), 0o755); err != nil {
		t.Fatal(err)
	}
	r = hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{
		Args:   []string{"sh", "-c", `while :; do sleep 1 & done`},
		Limits: runtime.Limits{Processes: 8},
	})
	if r.code != runtime.ExitKilled {
		t.Errorf("background sleeps: got %+v", r)
	}
	stillRuns(t, sharedRT)
}

// countingWriter checks a flood of "y\n" byte by byte without keeping it.
type countingWriter struct {
	n   int64
	bad bool
}

func (w *countingWriter) Write(p []byte) (int, error) {
	for i, c := range p {
		want := byte('y')
		if (w.n+int64(i))%2 == 1 {
			want = '\n'
		}
		if c != want {
			w.bad = true
		}
	}
	w.n += int64(len(p))
	return len(p), nil
}

func TestHostileOutputFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB of output")
	}
	var w countingWriter
	r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
		Args:   []string{"sh", "-c", "yes | head -c 100000000"},
		Stdout: &w,
	})
	if r.err != nil || r.code != 0 {
		t.Fatalf("flood: %+v", r)
	}
	if w.n != 100_000_000 || w.bad {
		t.Errorf("delivered %d bytes (want 100000000), corrupted: %v", w.n, w.bad)
	}
	// With an output limit, the flood ends there.
	w = countingWriter{}
	r = hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
		Args:   []string{"sh", "-c", "yes | head -c 100000000; echo more >&2"},
		Stdout: &w,
		Limits: runtime.Limits{Output: 1 << 20},
	})
	if r.code != runtime.ExitKilled || r.cause != runtime.CauseOutputLimit || !strings.Contains(r.stderr, "output limit of 1 MiB reached") {
		t.Errorf("flood past an output limit: %+v", r)
	}
	if w.n != 1<<20 || w.bad {
		t.Errorf("delivered %d bytes past a limit of 1 MiB, corrupted: %v", w.n, w.bad)
	}
	stillRuns(t, sharedRT)
}

func TestHostileHugeArgv(t *testing.T) {
	big := strings.Repeat("a", 1<<20)
	r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
		Args: []string{"sh", "-c", `echo ${#1}; printf %s "$1" | wc -c; sh -c 'echo ${#0}' "$1"`, "sh", big},
	})
	want := strings.Repeat(strconv.Itoa(1<<20)+"\n", 3)
	if r.err != nil || r.code != 0 || r.stdout != want {
		t.Errorf("1 MiB argv: got code %d, out %q, err %.300s", r.code, r.stdout, r.stderr)
	}
	stillRuns(t, sharedRT)
}

// A run blocked reading a stdin nobody writes to ends with its context.
func TestHostileBlockedOnStdin(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	stillRuns(t, sharedRT) // compiled first: the time below is the run's own
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	done := make(chan result, 1)
	go func() {
		done <- hostileRun(t, sharedRT, ctx, shellBox(t), runtime.Cmd{Args: []string{"sh", "-c", "cat; cat"}, Stdin: pr})
	}()
	select {
	case r := <-done:
		if r.code != runtime.ExitKilled {
			t.Errorf("got %+v", r)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("ended after %v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end")
	}
	stillRuns(t, sharedRT)
}

// A child does not outlive its parent: when a run ends (here by its
// context, while the shell waits for a Python child sleeping before it
// writes to a host directory), the child ends with it, at once.
func TestHostileOrphansEnd(t *testing.T) {
	dir := t.TempDir()
	hd, err := runtime.OpenHostDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	// Compiled first, so the time below is the run's own.
	hostileRun(t, sharedRT, context.Background(), runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{Args: []string{"sh", "-c", "python3 -c pass"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	r := hostileRun(t, sharedRT, ctx, runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{
		Args:   []string{"sh", "-c", `python3 -c "import time; time.sleep(3); open('/out/late', 'w').write('late')" & wait`},
		Mounts: []runtime.Mount{{Target: "/out", Volume: hd}},
	})
	if r.code != runtime.ExitKilled {
		t.Fatalf("got %+v", r)
	}
	if d := time.Since(start); d > 2900*time.Millisecond {
		t.Errorf("the run ended after %v: it waited for its child", d)
	}
	time.Sleep(4 * time.Second)
	if _, err := os.Stat(filepath.Join(dir, "late")); err == nil {
		t.Error("the child went on after its parent ended and wrote /out/late")
	}
	stillRuns(t, sharedRT)
}

// What a box writes to an in-memory mount counts against its memory limit
// as its writable layer does; a tmpfs size bounds that mount alone.
func TestHostileTmpfsFill(t *testing.T) {
	r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
		Args:   []string{"sh", "-c", "yes | head -c 100000000 > /scratch/big"},
		Mounts: []runtime.Mount{{Target: "/scratch", Volume: runtime.NewTmpfs(0)}},
		Limits: runtime.Limits{Memory: 64 << 20},
	})
	if r.code != runtime.ExitKilled || !strings.Contains(r.stderr, "files the box writes count too") {
		t.Errorf("filling a tmpfs past --memory: got code %d, stderr %.300s", r.code, r.stderr)
	}
	r = hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
		Args:   []string{"sh", "-c", "head -c 4096 /bin/busybox > /scratch/f || echo refused"},
		Mounts: []runtime.Mount{{Target: "/scratch", Volume: runtime.NewTmpfs(1024)}},
	})
	if r.code != 0 || r.stdout != "refused\n" {
		t.Errorf("a 1 KiB tmpfs took 4 KiB: %+v", r)
	}
	stillRuns(t, sharedRT)
}

// Guest-chosen file offsets: a write or a truncate far out must neither
// allocate the span (holes are free) nor overflow an offset in the host.
func TestHostileFileOffsets(t *testing.T) {
	o := shellBox(t)
	if err := o.WriteFile("/bin/offsets", goWasm(t, offsetsSrc), 0o755); err != nil {
		t.Fatal(err)
	}
	r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{
		Args:   []string{"offsets"},
		Limits: runtime.Limits{Memory: 64 << 20},
	})
	want := "pwrite 1 GiB: ok\n" +
		"read back: ok\n" +
		"truncate 512 GiB: ok\n" +
		"size: 549755813888\n" +
		"hole reads as zeros: ok\n" +
		"pwrite 1 TiB: refused\n" +
		"pwrite 2^63-4: refused\n" +
		"truncate 2^62: refused\n" +
		"seek 2^63-4 then write: refused\n" +
		"truncate 0: ok\n"
	if r.err != nil || r.code != 0 || r.stdout != want {
		t.Errorf("got code %d err %v\nstdout:\n%s\nstderr: %.500s", r.code, r.err, r.stdout, r.stderr)
	}
	stillRuns(t, sharedRT)
}

const offsetsSrc = `package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

func say(what string, err error) {
	if err != nil {
		fmt.Println(what+": refused")
		return
	}
	fmt.Println(what + ": ok")
}

func main() {
	f, err := os.Create("/tmp/sparse")
	if err != nil {
		panic(err)
	}
	_, err = f.WriteAt([]byte("far"), 1<<30)
	say("pwrite 1 GiB", err)
	b := make([]byte, 3)
	_, err = f.ReadAt(b, 1<<30)
	if err == nil && string(b) != "far" {
		err = fmt.Errorf("read %q", b)
	}
	say("read back", err)
	say("truncate 512 GiB", f.Truncate(512<<30))
	st, _ := f.Stat()
	fmt.Println("size:", st.Size())
	hole := make([]byte, 1<<20)
	hole[0] = 1
	_, err = f.ReadAt(hole, 300<<30)
	if err == nil && !bytes.Equal(hole, make([]byte, 1<<20)) {
		err = fmt.Errorf("hole is not zeros")
	}
	say("hole reads as zeros", err)
	_, err = f.WriteAt([]byte("x"), 1<<40)
	say("pwrite 1 TiB", err)
	_, err = f.WriteAt([]byte("xxxxxxxx"), 1<<63-4)
	say("pwrite 2^63-4", err)
	say("truncate 2^62", f.Truncate(1<<62))
	if _, err = f.Seek(1<<63-4, io.SeekStart); err == nil {
		_, err = f.Write([]byte("xxxxxxxx"))
	}
	say("seek 2^63-4 then write", err)
	say("truncate 0", f.Truncate(0))
}
`

// wasmULEB, wasmString and wasmSection encode the pieces of a module.
// Unsigned LEB128 is Go's unsigned varint.
func wasmULEB(v uint32) []byte { return binary.AppendUvarint(nil, uint64(v)) }

func wasmString(s string) []byte { return append(wasmULEB(uint32(len(s))), s...) }

func wasmSection(id byte, body []byte) []byte {
	return append(append([]byte{id}, wasmULEB(uint32(len(body)))...), body...)
}

// pollModule assembles a module whose _start calls poll_oneoff(in, out,
// n, nevents) with the given numbers and exits with the errno it returns.
func pollModule(in, out, n, nevents int32) []byte {
	sleb := func(v int32) []byte {
		var b []byte
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	str, section := wasmString, wasmSection
	const i32 = 0x7f
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(1, []byte{3,
		0x60, 4, i32, i32, i32, i32, 1, i32, // 0: poll_oneoff
		0x60, 1, i32, 0, // 1: proc_exit
		0x60, 0, 0, // 2: _start
	})...)
	imp := []byte{2}
	imp = append(append(append(imp, str("wasi_snapshot_preview1")...), str("poll_oneoff")...), 0, 0)
	imp = append(append(append(imp, str("wasi_snapshot_preview1")...), str("proc_exit")...), 0, 1)
	m = append(m, section(2, imp)...)
	m = append(m, section(3, []byte{1, 2})...)
	m = append(m, section(5, []byte{1, 0, 1})...)
	exp := append([]byte{2}, str("_start")...)
	exp = append(append(exp, 0, 2), str("memory")...)
	m = append(m, section(7, append(exp, 2, 0))...)
	var body []byte
	for _, v := range []int32{in, out, n, nevents} {
		body = append(append(body, 0x41), sleb(v)...)
	}
	body = append(body, 0x10, 0, 0x10, 1, 0x0b)
	body = append([]byte{0}, body...) // no locals
	m = append(m, section(10, append(append([]byte{1}, wasmULEB(uint32(len(body)))...), body...))...)
	return m
}

// A guest-given count is bounded before the host iterates over it.
func TestHostilePollCounts(t *testing.T) {
	o := shellBox(t)
	for _, c := range []struct {
		name       string
		in, out, n int32
		want       int // WASI errno as the exit status
	}{
		{"2^32-1 subscriptions", 0, 0, -1, 28},
		{"65537 subscriptions", 0, 0, 65537, 28},
		{"subscriptions past memory", 65000, 0, 100, 21},
		{"events past memory", 0, 65000, 100, 21},
	} {
		if err := o.WriteFile("/bin/poll", pollModule(c.in, c.out, c.n, 0), 0o755); err != nil {
			t.Fatal(err)
		}
		r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"poll"}})
		if r.err != nil || r.code != c.want {
			t.Errorf("%s: got %+v, want exit %d", c.name, r, c.want)
		}
	}
	stillRuns(t, sharedRT)
}

// Names, symlink targets and directory entries cost host memory: --memory
// and a tmpfs size count them, as they count file data.
func TestHostileNamesAndLinks(t *testing.T) {
	links := "import os\nt = 'x' * 4000\nfor i in range(200000):\n    os.symlink(t, '%s/l%d' % (D, i))\nprint('made them all')\n"
	r := hostileRun(t, sharedRT, context.Background(), runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{
		Args:   []string{"python3", "-c", "D = '/tmp'\n" + links},
		Limits: runtime.Limits{Memory: 64 << 20},
	})
	if r.code != runtime.ExitKilled || !strings.Contains(r.stderr, "memory limit of 64 MiB reached") {
		t.Errorf("800 MB of symlink targets under --memory 64m: got code %d, stdout %q, stderr %.300s", r.code, r.stdout, r.stderr)
	}
	r = hostileRun(t, sharedRT, context.Background(), runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{
		Args:   []string{"python3", "-c", "D = '/scratch'\ntry:\n" + indent(links) + "except OSError as e:\n    print('refused')\n"},
		Mounts: []runtime.Mount{{Target: "/scratch", Volume: runtime.NewTmpfs(1 << 20)}},
	})
	if r.err != nil || r.code != 0 || r.stdout != "refused\n" {
		t.Errorf("symlinks in a 1 MiB tmpfs: got %+v", r)
	}
	stillRuns(t, sharedRT)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ") + "\n"
}

// A child that crashes (a Wasm trap) is 134 to the shell that started it,
// as a crash is at the top level; 126 is for what cannot start.
func TestHostileTrapStatus(t *testing.T) {
	o := shellBox(t)
	ok := wasmModule(1, "")
	// The body of _start is the module's last bytes: "end" becomes
	// "unreachable; end".
	trap := append(bytes.TrimSuffix(ok, []byte{10, 4, 1, 2, 0, 0x0b}), 10, 5, 1, 3, 0, 0x00, 0x0b)
	if err := o.WriteFile("/bin/crash", trap, 0o755); err != nil {
		t.Fatal(err)
	}
	r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"crash"}})
	if r.code != runtime.ExitTrapped {
		t.Errorf("trap at the top: got %+v, want %d", r, runtime.ExitTrapped)
	}
	r = hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"sh", "-c", "crash; echo status=$?"}})
	if r.err != nil || r.code != 0 || r.stdout != "status=134\n" {
		t.Errorf("trap in a child: got %+v, want status=134", r)
	}
	stillRuns(t, sharedRT)
}

// Nothing of a run outlives Run: a child left spinning without system
// calls when its shell exits has ended when Run returns (on the default,
// not interruptible, Runtime it ends at its next system call).
func TestHostileSpinningChildOutlivesRun(t *testing.T) {
	o := runtime.NewOverlay(testutil.PythonBase(t))
	// Warm up: compile sh and python first.
	hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{Args: []string{"sh", "-c", "python3 -c pass"}})
	r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{
		Args: []string{"sh", "-c", "python3 -c 'for i in range(30000000): pass\nprint(1)' & exit 3"},
	})
	buf := make([]byte, 1<<20)
	stacks := string(buf[:goruntime.Stack(buf, true)])
	if r.code != 3 {
		t.Errorf("got %+v, want exit 3", r)
	}
	if strings.Contains(stacks, "wasmbox/runtime.(*process).run") {
		t.Errorf("a process of the run still runs after Run returned:\n%.3000s", stacks)
	}
	stillRuns(t, sharedRT)
}

// Open files are bounded per run, across its processes: each open of a
// host directory's file is a real descriptor of the runner.
func TestHostileOpenFiles(t *testing.T) {
	hd, err := runtime.OpenHostDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	hoard := "fs = []\nfor i in range(5000):\n    fs.append(open('/w/f%d' % i, 'w'))\nprint('held', len(fs))\n"
	for _, c := range []struct {
		name   string
		limits runtime.Limits
		msg    string
	}{
		{"default", runtime.Limits{}, "open file limit of 1024 reached"},
		{"Files: 100", runtime.Limits{Files: 100}, "open file limit of 100 reached"},
	} {
		r := hostileRun(t, sharedRT, context.Background(), runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{
			Args:   []string{"python3", "-c", hoard},
			Mounts: []runtime.Mount{{Target: "/w", Volume: hd}},
			Limits: c.limits,
		})
		if r.code != runtime.ExitKilled || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%s: 5000 open host files: got code %d, stdout %q, stderr %.300s", c.name, r.code, r.stdout, r.stderr)
		}
	}
	// Closed files give their count back; Unlimited lifts the bound.
	r := hostileRun(t, sharedRT, context.Background(), runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{
		Args:   []string{"python3", "-c", "for i in range(3000):\n    open('/w/g%d' % (i % 10), 'w').close()\nprint('ok')\n"},
		Mounts: []runtime.Mount{{Target: "/w", Volume: hd}},
		Limits: runtime.Limits{Files: 100},
	})
	if r.code != 0 || r.stdout != "ok\n" {
		t.Errorf("opening and closing 3000 times under Files: 100: %+v", r)
	}
	r = hostileRun(t, sharedRT, context.Background(), runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{
		Args:   []string{"python3", "-c", "fs = [open('/tmp/h%d' % i, 'w') for i in range(1500)]\nprint('held', len(fs))\n"},
		Limits: runtime.Limits{Files: runtime.Unlimited},
	})
	if r.code != 0 || r.stdout != "held 1500\n" {
		t.Errorf("1500 open files with Files: Unlimited: %+v", r)
	}
	stillRuns(t, sharedRT)
}

// withCustomSection appends a custom section of n bytes to module m.
func withCustomSection(m []byte, n int) []byte {
	return append(m, wasmSection(0, append(wasmString("pad"), make([]byte, n)...))...)
}

// Modules a box writes itself are compiled for the run only: they never
// reach the host's compilation cache on disk, their compilation counts
// against --memory, and a huge (sparse) module file is refused unread.
func TestHostileBoxWrittenModules(t *testing.T) {
	ctx := context.Background()
	cacheDir := t.TempDir()
	rt, err := runtime.New(ctx, runtime.NewConfig().WithCompilationCacheDir(cacheDir))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	o := shellBox(t)
	hostileRun(t, rt, ctx, o, runtime.Cmd{Args: []string{"true"}}) // the box's own sh is cached
	files := func() int {
		n := 0
		filepath.WalkDir(cacheDir, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	before := files()
	for i := range 5 {
		mod := withCustomSection(wasmModule(1, ""), 100+i) // five distinct modules
		if err := o.WriteFile("/tmp/own"+strconv.Itoa(i), mod, 0o755); err != nil {
			t.Fatal(err)
		}
		r := hostileRun(t, rt, ctx, o, runtime.Cmd{Args: []string{"sh", "-c", "/tmp/own" + strconv.Itoa(i) + " && echo ran"}})
		if r.err != nil || r.code != 0 || r.stdout != "ran\n" {
			t.Fatalf("a box-written module: %+v", r)
		}
	}
	if after := files(); after != before {
		t.Errorf("the compilation cache went from %d to %d files: box-written modules reached the disk", before, after)
	}
	// 12 MB of module to compile under --memory 100m.
	if err := o.WriteFile("/tmp/big", withCustomSection(wasmModule(1, ""), 12<<20), 0o755); err != nil {
		t.Fatal(err)
	}
	r := hostileRun(t, rt, ctx, o, runtime.Cmd{Args: []string{"/tmp/big"}, Limits: runtime.Limits{Memory: 100 << 20}})
	if r.code != runtime.ExitKilled || !strings.Contains(r.stderr, "which the box wrote") {
		t.Errorf("compiling 12 MB under --memory 100m: got %+v", r)
	}
	// A module header on a 512 GiB hole.
	r = hostileRun(t, rt, ctx, runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{Args: []string{"sh", "-c",
		`python3 -c "f = open('/tmp/huge', 'wb'); f.write(b'\0asm\1\0\0\0'); f.truncate(512 << 30); f.close()" && chmod +x /tmp/huge && /tmp/huge; echo status=$?`}})
	if r.err != nil || r.code != 0 || r.stdout != "status=126\n" || !strings.Contains(r.stderr, "larger than 256 MiB") {
		t.Errorf("a 512 GiB sparse module: got %+v", r)
	}
	stillRuns(t, rt)
}

// hostTree lists the entries under dir (relative names, sorted), with the
// content of each regular file: what a box left on the host.
func hostTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		name, _ := filepath.Rel(dir, p)
		b.WriteString(name)
		if d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			b.WriteString("=" + strings.TrimSpace(string(data)))
		}
		b.WriteString(" ")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}

func openHost(t *testing.T, dir string) *runtime.HostDir {
	t.Helper()
	hd, err := runtime.OpenHostDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hd.Close() })
	return hd
}

// -v $D:/w -v $D/sub:/w/sub:ro, docker's way to protect a subdirectory:
// the host's sub stays read-only whichever path of the box leads to it.
func TestHostileReadOnlySubdirectory(t *testing.T) {
	attacks := map[string]string{
		"symlink made by the box": `ln -s . /w/x; ln -s /w /w/abs; ln -s sub /w/s
			for p in /w/x/sub /w/abs/sub /w/x/x/sub /w/s /w/x/s; do
				echo pwn > $p/new; echo pwn >> $p/keep; rm -f $p/gone; mkdir $p/dir; mv $p/keep $p/moved; ln -s pwn $p/link
			done`,
		"symlink of the host":  `for p in /w/hostlink /w/hostself/sub; do echo pwn > $p/new; echo pwn >> $p/keep; rm -f $p/gone; done`,
		"hard link":            `ln /w/sub/keep /w/h && echo pwn >> /w/h`,
		"rename of the parent": `mv /w/a /w/b; echo pwn > /w/b/sub/new; echo pwn >> /w/b/sub/keep; rm -f /w/b/sub/gone`,
	}
	for name, script := range attacks {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			for _, sub := range []string{"sub", "a/sub"} {
				if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
					t.Fatal(err)
				}
				for f, data := range map[string]string{"keep": "original", "gone": "here"} {
					if err := os.WriteFile(filepath.Join(d, sub, f), []byte(data+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := os.Symlink("sub", filepath.Join(d, "hostlink")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(".", filepath.Join(d, "hostself")); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"sub": hostTree(t, filepath.Join(d, "sub")), "a/sub": hostTree(t, filepath.Join(d, "a/sub"))}
			r := hostileRun(t, sharedRT, context.Background(), shellBox(t), runtime.Cmd{
				Args: []string{"sh", "-c", script + "\ntrue"},
				Mounts: []runtime.Mount{
					{Target: "/w", Volume: openHost(t, d)},
					{Target: "/w/sub", Volume: openHost(t, filepath.Join(d, "sub")), ReadOnly: true},
					{Target: "/w/a/sub", Volume: openHost(t, filepath.Join(d, "a/sub")), ReadOnly: true},
				},
			})
			if r.err != nil {
				t.Fatal(r.err)
			}
			for sub, w := range want {
				dir := filepath.Join(d, sub)
				if _, err := os.Stat(dir); err != nil {
					dir = filepath.Join(d, "b/sub") // moved by the host's rename
				}
				if got := hostTree(t, dir); got != w {
					t.Errorf("the read-only %s changed:\n got %s\nwant %s", sub, got, w)
				}
			}
		})
	}
	stillRuns(t, sharedRT)
}

// With -v HOST:/t, the box's /tmp (and /t2, /tx/...) are not in the
// mount: a path belongs to a mount only at a "/" boundary, for every guest.
func TestHostileMountPrefix(t *testing.T) {
	for _, c := range []struct {
		name string
		base func(testing.TB) *runtime.Overlay
		args []string
	}{
		{"shell", func(t testing.TB) *runtime.Overlay { return runtime.NewOverlay(testutil.ShellBase(t)) },
			[]string{"sh", "-c", "mkdir -p /tx && echo box > /tmp/x && echo box > /tx/y && echo in > /t/z && cat /tmp/x /tx/y && rm /tmp/x && echo gone > /tmp/x"}},
		{"python", func(t testing.TB) *runtime.Overlay { return runtime.NewOverlay(testutil.PythonBase(t)) },
			[]string{"python3", "-c", "import os\nos.makedirs('/tx', exist_ok=True)\nfor p in ('/tmp/x', '/tx/y'): open(p, 'w').write('box\\n')\nopen('/t/z', 'w').write('in\\n')\nprint(open('/tmp/x').read() + open('/tx/y').read(), end='')\nos.remove('/tmp/x')\nopen('/tmp/x', 'w').write('gone')"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			host := t.TempDir()
			o := c.base(t)
			r := hostileRun(t, sharedRT, context.Background(), o, runtime.Cmd{
				Args:   c.args,
				Mounts: []runtime.Mount{{Target: "/t", Volume: openHost(t, host)}},
			})
			if r.err != nil || r.code != 0 || r.stdout != "box\nbox\n" {
				t.Errorf("run: %+v", r)
			}
			if got := hostTree(t, host); got != "z=in" {
				t.Errorf("the host directory mounted at /t holds: %s", got)
			}
			if b, err := o.ReadFile("tmp/x"); err != nil || strings.TrimSpace(string(b)) != "gone" {
				t.Errorf("the box's /tmp/x: %q, %v", b, err)
			}
		})
	}
}

// "name/" never creates a regular file, in the box's own tree or in a
// mount (Linux: EISDIR); CPython's shutil.copyfile relies on it.
func TestCreateWithTrailingSlash(t *testing.T) {
	hd, err := runtime.OpenHostDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	script := "import os\nos.mkdir('/tmp/d')\nfor p in ('/tmp/d/new/', '/m/new/'):\n    try:\n        open(p, 'w')\n        print(p, 'created')\n    except IsADirectoryError:\n        print(p, 'EISDIR', os.path.exists(p[:-1]))\n"
	for _, mounts := range [][]runtime.Mount{nil, {{Target: "/m", Volume: hd}}} {
		r := hostileRun(t, sharedRT, context.Background(), runtime.NewOverlay(testutil.PythonBase(t)), runtime.Cmd{
			Args:   []string{"python3", "-c", strings.ReplaceAll(script, "'/m/new/'", map[bool]string{true: "'/m/new/'", false: "'/tmp/new/'"}[mounts != nil])},
			Mounts: mounts,
		})
		want := "/tmp/d/new/ EISDIR False\n/m/new/ EISDIR False\n"
		if mounts == nil {
			want = "/tmp/d/new/ EISDIR False\n/tmp/new/ EISDIR False\n"
		}
		if r.err != nil || r.code != 0 || r.stdout != want {
			t.Errorf("mounts %v: got %+v, want %q", mounts != nil, r, want)
		}
	}
}
