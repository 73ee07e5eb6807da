package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// boxPython reads which Debian source package the box's CPython was built
// from ("python3.11", "3.11.2-6+deb12u8") out of the python stand-in's
// manifests: the packaged stand-in's (shims/python/package.sh) names the
// compiled CPython's directory, whose manifest (build.sh) has the sources.
func boxPython(shimsDir string) (pkg, version string, err error) {
	manifest := filepath.Join(shimsDir, "python", "manifest.txt")
	for hops := 0; hops < 2; hops++ {
		data, err := os.ReadFile(manifest)
		if err != nil {
			return "", "", fmt.Errorf("reading the python stand-in's manifest: %w (run make shims)", err)
		}
		next := ""
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if dir, ok := strings.CutPrefix(sc.Text(), "compiled:"); ok {
				next = filepath.Join(strings.TrimSpace(dir), "manifest.txt")
			}
			rest, ok := strings.CutPrefix(sc.Text(), "debian-sources:")
			if !ok {
				continue
			}
			for _, pin := range strings.Fields(rest) {
				if p, v, ok := strings.Cut(pin, "="); ok && strings.HasPrefix(p, "python3") {
					return p, v, nil
				}
			}
		}
		if next == "" {
			break
		}
		manifest = next
	}
	return "", "", fmt.Errorf("%s names no python source package", manifest)
}

// testsuite returns a directory holding CPython's Lib/test, taken from the
// same Debian source package as the box's interpreter, so tests and
// interpreter match to the patch. It is fetched once with apt-get source
// (the deb-src entries shims/python/build.sh set up) and unpacked with
// dpkg-source into cacheDir. Debian's libpython3.11-testsuite is not used:
// its 3.11.2 build leaves out test_sqlite3 and test_tomllib.
func testsuite(ctx context.Context, shimsDir, cacheDir string, logf func(string, ...any)) (string, error) {
	pkg, version, err := boxPython(shimsDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, pkg+"_"+version)
	test := filepath.Join(dir, "test")
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return test, nil
	}
	logf("fetching CPython's test suite: apt-get source %s=%s", pkg, version)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(cacheDir, "fetch-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if err := command(ctx, work, "apt-get", "source", "--download-only", pkg+"="+version); err != nil {
		return "", fmt.Errorf("%w\n(apt needs deb-src entries; make shims adds them when it builds CPython)", err)
	}
	fileVersion := version // file names leave out the epoch
	if _, v, ok := strings.Cut(version, ":"); ok {
		fileVersion = v
	}
	dsc := pkg + "_" + fileVersion + ".dsc"
	if err := command(ctx, work, "dpkg-source", "--no-check", "-x", dsc, "src"); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(work, "src", "Lib", "test"), test); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "complete"), []byte(pkg+"="+version+"\n"), 0o644); err != nil {
		return "", err
	}
	return test, nil
}

func command(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.Bytes())
	}
	return nil
}
