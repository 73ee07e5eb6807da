package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/internal/testutil"
	"github.com/wasmbox/wasmbox/runtime"
)

// runMounts runs a shell script with mounts and returns its output.
func runMounts(t *testing.T, o *runtime.Overlay, mounts []runtime.Mount, script string) (stdout, stderr string, code int) {
	t.Helper()
	if o == nil {
		o = runtime.NewOverlay(testutil.ShellBase(t))
	}
	var out, errb bytes.Buffer
	err := sharedRT.Run(context.Background(), o, runtime.Cmd{
		Args:   []string{"sh", "-c", script},
		Env:    []string{"PATH=" + runtime.DefaultPath},
		Stdout: &out,
		Stderr: &errb,
		Mounts: mounts,
	})
	var ee *runtime.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
		errb.WriteString(ee.Reason)
	default:
		t.Fatalf("%q: %v", script, err)
	}
	return out.String(), errb.String(), code
}

// hostile makes a host directory whose entries try to lead out of it,
// next to a secret file the box must never read.
func hostile(t *testing.T) (granted, secret string) {
	t.Helper()
	top := t.TempDir()
	secret = filepath.Join(top, "secret")
	if err := os.WriteFile(secret, []byte("HOST-SECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	granted = filepath.Join(top, "a", "b", "granted")
	if err := os.MkdirAll(filepath.Join(granted, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"abs":      secret,
		"rel":      "../../../secret",
		"sub/up":   "../../../../secret",
		"hostname": "/etc/hostname",
		"dirup":    "../..",
	} {
		if err := os.Symlink(target, filepath.Join(granted, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(granted, "data.txt"), []byte("granted data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return granted, secret
}

func TestHostDirMountContainsEscapes(t *testing.T) {
	granted, secret := hostile(t)
	hd, err := runtime.OpenHostDir(granted)
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	mounts := []runtime.Mount{{Target: "/work", Volume: hd}}
	out, _, code := runMounts(t, nil, mounts, "cat /work/data.txt; ls /work | sort | tr '\\n' ' '")
	if code != 0 || out != "granted data\nabs data.txt dirup hostname rel sub " {
		t.Fatalf("reading the mount: status %d, output %q", code, out)
	}
	for _, p := range []string{"/work/abs", "/work/rel", "/work/sub/up", "/work/hostname", "/work/dirup/secret", "/work/../secret", "/work/dirup/../secret"} {
		out, _, code := runMounts(t, nil, mounts, "cat "+p)
		if p == "/work/hostname" {
			// Links are followed in the box's namespace: to the box's own
			// /etc/hostname, never the host's.
			if out != "wasmbox\n" {
				t.Errorf("cat %s: status %d, output %q, want the box's /etc/hostname", p, code, out)
			}
			continue
		}
		if code == 0 || strings.Contains(out, "HOST-SECRET") {
			t.Errorf("cat %s: status %d, output %q: the box reached outside the mount", p, code, out)
		}
	}
	// Links the box makes lead nowhere either, and writing through them
	// writes nothing outside.
	script := `ln -s ../../../secret /work/mine; cat /work/mine; echo pwned > /work/mine; ` +
		`ln /work/abs /work/hard; cat /work/hard; cd /work/sub && cat ../../secret; true`
	out, _, _ = runMounts(t, nil, mounts, script)
	if strings.Contains(out, "HOST-SECRET") {
		t.Errorf("links made by the box reached the host secret: %q", out)
	}
	if b, _ := os.ReadFile(secret); string(b) != "HOST-SECRET\n" {
		t.Errorf("the host secret was changed: %q", b)
	}
}

func TestHostDirMountWritesAndReadOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("original\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hd, err := runtime.OpenHostDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()

	// Read-write: what the box writes lands on the host.
	out, errOut, code := runMounts(t, nil, []runtime.Mount{{Target: "/out", Volume: hd}},
		"mkdir -p /out/d && echo made > /out/d/new.txt && mv /out/d/new.txt /out/moved.txt && cat /out/moved.txt")
	if code != 0 || out != "made\n" {
		t.Fatalf("writing a rw mount: status %d, out %q, err %q", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "moved.txt")); err != nil || string(b) != "made\n" {
		t.Fatalf("the host does not see the box's file: %q, %v", b, err)
	}

	// Read-only: every kind of write fails and the host is unchanged.
	ro := []runtime.Mount{{Target: "/in", Volume: hd, ReadOnly: true}}
	for _, script := range []string{
		"echo x > /in/keep.txt", "echo x >> /in/keep.txt", "echo x > /in/new.txt", "rm /in/keep.txt",
		"mkdir /in/newdir", "mv /in/keep.txt /in/k2", "chmod 777 /in/keep.txt", "touch /in/keep.txt",
		"ln -s x /in/link", "rmdir /in/d",
	} {
		if _, _, code := runMounts(t, nil, ro, script); code == 0 {
			t.Errorf("%q on a read-only mount succeeded", script)
		}
	}
	out, _, code = runMounts(t, nil, ro, "cat /in/keep.txt")
	if code != 0 || out != "original\n" {
		t.Errorf("reading a ro mount: status %d, out %q", code, out)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "d keep.txt moved.txt" {
		t.Errorf("host directory after the ro runs: %v", names)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(b) != "original\n" {
		t.Errorf("keep.txt changed: %q", b)
	}
}

func TestTmpfsMountLeavesNoTrace(t *testing.T) {
	o := runtime.NewOverlay(testutil.ShellBase(t))
	tmp := runtime.NewOverlay(nil)
	out, errOut, code := runMounts(t, o, []runtime.Mount{{Target: "/cache/deep", Volume: tmp}},
		"echo hi > /cache/deep/f && cat /cache/deep/f && ls -d /cache/deep")
	if code != 0 || out != "hi\n/cache/deep\n" {
		t.Fatalf("status %d, out %q, err %q", code, out, errOut)
	}
	// The file is in the volume, not in the box's overlay; the mount
	// point made for the run is gone.
	if b, err := tmp.ReadFile("f"); err != nil || string(b) != "hi\n" {
		t.Errorf("the tmpfs volume holds %q, %v", b, err)
	}
	if _, err := o.ReadFile("cache"); err == nil || !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such") {
		t.Errorf("the mount point stayed in the overlay: %v", err)
	}
}

func TestMountRejectsBadTargets(t *testing.T) {
	for _, target := range []string{"relative", "/", ""} {
		err := sharedRT.Run(context.Background(), runtime.NewOverlay(nil), runtime.Cmd{
			Args:   []string{"true"},
			Mounts: []runtime.Mount{{Target: target, Volume: runtime.NewOverlay(nil)}},
		})
		if err == nil || !strings.Contains(err.Error(), "mount target") {
			t.Errorf("target %q: %v", target, err)
		}
	}
}

// Symlinks cross between the box's tree and its mounts, both ways.
func TestSymlinksCrossMounts(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d/f"), []byte("in the mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := []runtime.Mount{{Target: "/work", Volume: openHost(t, dir)}}
	// A mount below a link of the box's tree is where the link leads.
	o := runtime.NewOverlay(testutil.ShellBase(t))
	if o.MkdirAll("real", 0o755) != nil || o.Symlink("real", "lnk") != nil {
		t.Fatal("making the link")
	}
	out, errOut, code := runMounts(t, o, []runtime.Mount{{Target: "/lnk/m", Volume: openHost(t, filepath.Join(dir, "d"))}},
		"cat /lnk/m/f /real/m/f && ls /real")
	if code != 0 || out != "in the mount\nin the mount\nm\n" {
		t.Fatalf("a mount below a link: status %d, out %q, err %q", code, out, errOut)
	}
	out, errOut, code = runMounts(t, nil, mounts, `ln -s /work/d /data && ln -s ../../etc /work/d/etc && ln -s work/d/f /rel
		cat /data/f /rel && echo new > /data/g && cat /work/d/etc/hostname && ls /data | tr '\n' ' '`)
	if code != 0 || out != "in the mount\nin the mount\nwasmbox\netc f g " {
		t.Fatalf("status %d, out %q, err %q", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "d/g")); err != nil || string(b) != "new\n" {
		t.Errorf("written through the box's link: %q, %v", b, err)
	}
}
