package runtime

import (
	"testing"
	"unsafe"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// Cases found by CPython's regression suite (make conformance).

func TestOverlaySymlinkKeepsItsTarget(t *testing.T) {
	o := newOverlay(lowerImage(t))
	// wazero passes the target as a string over guest memory; the guest
	// then reuses that memory.
	buf := []byte("/etc/hostname")
	if errno := o.Symlink(unsafe.String(&buf[0], len(buf)), "link"); errno != 0 {
		t.Fatal(errno)
	}
	copy(buf, "XXXXXXXXXXXXX")
	if got, errno := o.Readlink("link"); errno != 0 || got != "/etc/hostname" {
		t.Errorf("readlink: %q, %v; want /etc/hostname", got, errno)
	}
	if got := read(t, o, "link"); got != "box\n" {
		t.Errorf("through the link: %q", got)
	}
}

func TestOverlayTrailingSlashNamesADirectory(t *testing.T) {
	o := newOverlay(lowerImage(t))
	if errno := o.Symlink("etc", "etclink"); errno != 0 {
		t.Fatal(errno)
	}
	for _, tc := range []struct {
		name string
		op   func() experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"stat file/", func() experimentalsys.Errno { _, e := o.Stat("etc/hostname/"); return e }, experimentalsys.ENOTDIR},
		{"lstat file/", func() experimentalsys.Errno { _, e := o.Lstat("etc/hostname/"); return e }, experimentalsys.ENOTDIR},
		{"open file/", func() experimentalsys.Errno {
			_, e := o.OpenFile("etc/hostname/", experimentalsys.O_RDONLY, 0)
			return e
		}, experimentalsys.ENOTDIR},
		{"create new/", func() experimentalsys.Errno {
			_, e := o.OpenFile("new/", experimentalsys.O_WRONLY|experimentalsys.O_CREAT, 0o644)
			return e
		}, experimentalsys.EISDIR},
		{"rename file to new/", func() experimentalsys.Errno { return o.Rename("etc/hostname", "moved/") }, experimentalsys.ENOTDIR},
		{"mkdir dir/", func() experimentalsys.Errno { return o.Mkdir("made/", 0o755) }, 0},
		{"stat dir/", func() experimentalsys.Errno { _, e := o.Stat("etc/"); return e }, 0},
		{"lstat link/ follows the link", func() experimentalsys.Errno {
			st, e := o.Lstat("etclink/")
			if e == 0 && !st.Mode.IsDir() {
				return experimentalsys.EINVAL
			}
			return e
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.op(); got != tc.want {
				t.Errorf("errno %v, want %v", got, tc.want)
			}
		})
	}
	for _, p := range []string{"new", "moved"} {
		if _, errno := o.Lstat(p); errno != experimentalsys.ENOENT {
			t.Errorf("%s was created (%v)", p, errno)
		}
	}
	if st, errno := o.Stat("made"); errno != 0 || !st.Mode.IsDir() {
		t.Errorf("made: %v %v", errno, st.Mode)
	}
}

func TestOverlayFileNonblockFlag(t *testing.T) {
	o := newOverlay(lowerImage(t))
	f, errno := o.OpenFile("etc/hostname", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	pf, ok := f.(experimentalsys.PollableFile)
	if !ok {
		t.Fatal("an open file is not a PollableFile: wazero answers ENOSYS to O_NONBLOCK")
	}
	if pf.IsNonblock() {
		t.Error("a new file is non-blocking")
	}
	if errno := pf.SetNonblock(true); errno != 0 || !pf.IsNonblock() {
		t.Errorf("SetNonblock(true): %v, IsNonblock %v", errno, pf.IsNonblock())
	}
	buf := make([]byte, 8)
	if n, errno := f.Read(buf); errno != 0 || string(buf[:n]) != "box\n" {
		t.Errorf("non-blocking read: %q, %v", buf[:n], errno)
	}
	if errno := pf.SetNonblock(false); errno != 0 || pf.IsNonblock() {
		t.Errorf("SetNonblock(false): %v, IsNonblock %v", errno, pf.IsNonblock())
	}
}
