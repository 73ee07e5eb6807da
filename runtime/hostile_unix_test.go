//go:build unix

package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// A FIFO in a granted host directory is refused at once: opening it must
// not block the runner in the kernel, where no context or signal ends it.
func TestHostileHostFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Should the runner block, a writer unblocks it later, so the test
	// fails instead of hanging.
	release := time.AfterFunc(20*time.Second, func() {
		if f, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			time.Sleep(time.Second)
			f.Close()
		}
	})
	defer release.Stop()
	hd, err := runtime.OpenHostDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := hostileRun(t, sharedRT, ctx, shellBox(t), runtime.Cmd{
		Args:   []string{"sh", "-c", "cat /w/fifo 2>/dev/null || echo refused; echo x > /w/fifo 2>/dev/null || echo refused"},
		Mounts: []runtime.Mount{{Target: "/w", Volume: hd}},
	})
	if r.err != nil || r.code != 0 || r.stdout != "refused\nrefused\n" {
		t.Errorf("opening a host FIFO: got %+v", r)
	}
	stillRuns(t, sharedRT)
}
