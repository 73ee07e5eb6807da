package fsimage

import (
	"io/fs"
	"testing"
	"testing/fstest"
)

func TestSmoke(t *testing.T) {
	img := image(t,
		reg("bin/sh", 0o755, "#!shell"),
		reg("etc/passwd", 0o644, "root:x:0:0"),
		symlink("bin/bash", "sh"),
		symlink("usr/bin", "/bin"),
		hardlink("etc/passwd-", "etc/passwd"),
		dir("tmp", fs.ModeSticky|0o777),
	)
	for _, e := range img.Entries() {
		t.Logf("%+v", e)
	}
	if err := fstest.TestFS(FS(img), "bin/sh", "etc/passwd"); err != nil {
		t.Fatal(err)
	}
}
