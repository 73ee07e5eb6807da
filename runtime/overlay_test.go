package runtime

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/wasmbox/wasmbox/fsimage"
)

// lowerImage builds a small lower layer.
func lowerImage(t *testing.T) fsimage.Tree {
	t.Helper()
	w := fsimage.NewWriter()
	add := func(e fsimage.Entry, data string) {
		t.Helper()
		e.ModTime = time.Unix(100, 0)
		if e.Type == fsimage.TypeReg {
			e.Size = int64(len(data))
			if err := w.AddBytes(e, []byte(data)); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := w.Add(e, nil); err != nil {
			t.Fatal(err)
		}
	}
	add(fsimage.Entry{Path: "etc", Type: fsimage.TypeDir, Mode: 0o755}, "")
	add(fsimage.Entry{Path: "etc/hostname", Type: fsimage.TypeReg, Mode: 0o644}, "box\n")
	add(fsimage.Entry{Path: "etc/dir", Type: fsimage.TypeDir, Mode: 0o755}, "")
	add(fsimage.Entry{Path: "etc/dir/a", Type: fsimage.TypeReg, Mode: 0o600, UID: 7}, "a")
	add(fsimage.Entry{Path: "abs", Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: "/etc/hostname"}, "")
	add(fsimage.Entry{Path: "esc", Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: "../../../../etc/hostname"}, "")
	add(fsimage.Entry{Path: "loop", Type: fsimage.TypeSymlink, Mode: 0o777, Linkname: "loop"}, "")
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := fsimage.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func read(t *testing.T, o *overlay, p string) string {
	t.Helper()
	b, err := o.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return string(b)
}

func TestOverlaySymlinksStayInside(t *testing.T) {
	o := newOverlay(lowerImage(t))
	for _, p := range []string{"abs", "esc", "etc/../../abs"} {
		if got := read(t, o, p); got != "box\n" {
			t.Errorf("%s: got %q, want the box's hostname", p, got)
		}
	}
	if _, errno := o.Stat("loop"); errno != experimentalsys.ELOOP {
		t.Errorf("loop: errno %v, want ELOOP", errno)
	}
}

func TestOverlayWritesStayInUpper(t *testing.T) {
	lower := lowerImage(t)
	o := newOverlay(lower)
	if err := o.WriteFile("/etc/hostname", []byte("new\n"), 0o644, 0, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if errno := o.Unlink("etc/dir/a"); errno != 0 {
		t.Fatal(errno)
	}
	if errno := o.Mkdir("tmp", 0o755); errno != 0 {
		t.Fatal(errno)
	}
	if got := read(t, o, "etc/hostname"); got != "new\n" {
		t.Errorf("after write: %q", got)
	}
	if _, errno := o.Stat("etc/dir/a"); errno != experimentalsys.ENOENT {
		t.Errorf("deleted file: errno %v, want ENOENT", errno)
	}
	// A new overlay over the same lower sees none of it.
	fresh := newOverlay(lower)
	if got := read(t, fresh, "etc/hostname"); got != "box\n" {
		t.Errorf("fresh overlay: %q", got)
	}
	if _, errno := fresh.Stat("tmp"); errno != experimentalsys.ENOENT {
		t.Errorf("fresh overlay sees tmp: %v", errno)
	}
}

func TestOverlayLayerRoundTrip(t *testing.T) {
	lower := lowerImage(t)
	o := newOverlay(lower)
	must := func(errno experimentalsys.Errno) {
		t.Helper()
		if errno != 0 {
			t.Fatal(errno)
		}
	}
	if err := o.WriteFile("/new/file", []byte("hello"), 0o755, 1, 2, time.Time{}); err == nil {
		t.Fatal("writing under a missing directory worked")
	}
	if err := o.MkdirAll("/new/deep", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteFile("/new/deep/file", []byte("hello"), 0o755, 1, 2, time.Time{}); err != nil {
		t.Fatal(err)
	}
	must(o.Link("new/deep/file", "new/hard"))
	must(o.Symlink("deep/file", "new/sym"))
	must(o.Unlink("etc/hostname"))
	must(o.Unlink("etc/dir/a"))
	must(o.Rmdir("etc/dir"))
	must(o.Mkdir("etc/dir", 0o700)) // must not show the old a
	must(o.Rename("etc", "etc2"))
	var layer bytes.Buffer
	n, err := o.WriteLayer(&layer, time.Unix(1000, 0))
	if err != nil || n == 0 {
		t.Fatalf("WriteLayer: %d, %v", n, err)
	}
	img, err := fsimage.Open(bytes.NewReader(layer.Bytes()), int64(layer.Len()))
	if err != nil {
		t.Fatal(err)
	}
	merged := newOverlay(fsimage.Stack(lower, img))
	if got := read(t, merged, "new/sym"); got != "hello" {
		t.Errorf("symlink: %q", got)
	}
	if got := read(t, merged, "new/hard"); got != "hello" {
		t.Errorf("hard link: %q", got)
	}
	st, _, _, errno := merged.statOwner("new/deep/file", true)
	if errno != 0 || st.Mode.Perm() != 0o755 || st.Mtim > time.Unix(1000, 0).UnixNano() {
		t.Errorf("file: %v %v mtime %d", errno, st.Mode, st.Mtim)
	}
	for _, gone := range []string{"etc", "etc2/hostname", "etc2/dir/a"} {
		if _, errno := merged.Lstat(gone); errno != experimentalsys.ENOENT {
			t.Errorf("%s: errno %v, want ENOENT", gone, errno)
		}
	}
	if st, errno := merged.Stat("etc2/dir"); errno != 0 || st.Mode.Perm() != 0o700 {
		t.Errorf("etc2/dir: %v %v", errno, st.Mode)
	}
	// Nothing changed: no layer.
	if n, err := newOverlay(lower).WriteLayer(&bytes.Buffer{}, time.Time{}); n != 0 || err != nil {
		t.Errorf("unchanged overlay wrote %d entries (%v)", n, err)
	}
}

func TestOverlayReaddir(t *testing.T) {
	o := newOverlay(lowerImage(t))
	if errno := o.Unlink("etc/hostname"); errno != 0 {
		t.Fatal(errno)
	}
	if err := o.WriteFile("/etc/zz", nil, 0o644, 0, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	f, errno := o.OpenFile("etc", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	var names []string
	for {
		ents, errno := f.Readdir(1)
		if errno != 0 {
			t.Fatal(errno)
		}
		if len(ents) == 0 {
			break
		}
		names = append(names, ents[0].Name+":"+ents[0].Type.String())
	}
	want := "dir:d---------,zz:----------"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("readdir: got %s, want %s", got, want)
	}
	if _, errno := o.OpenFile("etc", experimentalsys.O_WRONLY, 0); errno != experimentalsys.EISDIR {
		t.Errorf("writing a directory: %v", errno)
	}
	_ = fs.ModeDir
}
