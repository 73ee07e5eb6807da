package debwheel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wasmbox/wasmbox/internal/flock"
)

// CacheDir is where Fetch keeps the packages it downloaded: wasmbox/debs
// under the user's cache directory ($XDG_CACHE_HOME, else ~/.cache).
func CacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "wasmbox", "debs"), nil
}

// Fetch returns the paths of the pinned packages' .deb files in cacheDir,
// downloading those missing with apt-get download PKG=VERSION (apt's own
// client and sources). If apt does not know a version, it runs apt-get
// update once and tries again; a pin still missing then is an error that
// lists the versions apt knows. Fetches of several processes sharing
// cacheDir take turns.
func Fetch(ctx context.Context, cacheDir string, pins []Pin) ([]string, error) {
	paths := make([]string, len(pins))
	missing := func() []int {
		var idx []int
		for i, p := range pins {
			if paths[i] == "" {
				paths[i] = cached(cacheDir, p)
			}
			if paths[i] == "" {
				idx = append(idx, i)
			}
		}
		return idx
	}
	if len(missing()) == 0 {
		return paths, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(filepath.Join(cacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	if err := flock.Lock(lf); err != nil {
		return nil, fmt.Errorf("locking %s: %w", cacheDir, err)
	}
	need := missing() // another process may have fetched them meanwhile
	if len(need) == 0 {
		return paths, nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return nil, fmt.Errorf("fetching %s: apt-get not found (Debian's packages are fetched through apt)", pinList(pins, need))
	}
	err = download(ctx, cacheDir, pins, need)
	if err != nil {
		// A fresh machine's lists may be old or empty: update once.
		if out, uerr := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
			return nil, fmt.Errorf("%v; then apt-get update: %v\n%s", err, uerr, out)
		}
		err = download(ctx, cacheDir, pins, missing())
	}
	if err != nil {
		return nil, err
	}
	if need := missing(); len(need) > 0 {
		return nil, fmt.Errorf("apt-get download left no .deb for %s in %s", pinList(pins, need), cacheDir)
	}
	return paths, nil
}

// cached returns the path of p's .deb in dir, or "". apt names a download
// PKG_VERSION_ARCH.deb, with an epoch's colon as %3a.
func cached(dir string, p Pin) string {
	m, _ := filepath.Glob(filepath.Join(dir, p.Package+"_"+strings.ReplaceAll(p.Version, ":", "%3a")+"_*.deb"))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// download runs apt-get download for pins[need] in a new directory under
// cacheDir, then moves the files in: a download cut short leaves nothing
// Fetch would take for a package.
func download(ctx context.Context, cacheDir string, pins []Pin, need []int) error {
	if len(need) == 0 {
		return nil
	}
	tmp, err := os.MkdirTemp(cacheDir, ".download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// apt downloads as its _apt user when it can write the directory.
	os.Chmod(tmp, 0o755)
	args := []string{"download", "-q"}
	for _, i := range need {
		args = append(args, pins[i].Package+"="+pins[i].Version)
	}
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get %s: %v\n%s%s", strings.Join(args, " "), err, out.Bytes(), known(ctx, pins, need))
	}
	debs, err := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if err != nil {
		return err
	}
	for _, d := range debs {
		if err := os.Rename(d, filepath.Join(cacheDir, filepath.Base(d))); err != nil {
			return err
		}
	}
	return nil
}

// known says which versions apt knows of each package in need, for the
// message of a pin that is gone.
func known(ctx context.Context, pins []Pin, need []int) string {
	var b strings.Builder
	for _, i := range need {
		out, err := exec.CommandContext(ctx, "apt-cache", "madison", pins[i].Package).Output()
		var vs []string
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Split(line, "|")
			if len(f) >= 2 && !slices.Contains(vs, strings.TrimSpace(f[1])) {
				vs = append(vs, strings.TrimSpace(f[1]))
			}
		}
		switch {
		case err != nil && !errors.Is(err, exec.ErrNotFound):
			fmt.Fprintf(&b, "%s: apt-cache madison: %v\n", pins[i].Package, err)
		case len(vs) == 0:
			fmt.Fprintf(&b, "%s: apt knows no version of it\n", pins[i].Package)
		default:
			fmt.Fprintf(&b, "%s: pinned %s; apt knows %s\n", pins[i].Package, pins[i].Version, strings.Join(vs, ", "))
		}
	}
	b.WriteString("(update the pins in internal/debwheel/pins.go)")
	return b.String()
}

func pinList(pins []Pin, idx []int) string {
	var s []string
	for _, i := range idx {
		s = append(s, pins[i].Package+"="+pins[i].Version)
	}
	return strings.Join(s, " ")
}
