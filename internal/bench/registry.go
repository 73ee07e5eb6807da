package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wasmbox/wasmbox/internal/testregistry"
	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/oci"
)

// registryRows measures distribution through a real registry (Debian's
// docker-registry on 127.0.0.1, started here as the tests start it): pull,
// and pull plus first run, of the bench box into a fresh home; and the
// size each example box has in a registry (gzip layers) and in the store.
func registryRows(cmd func(args ...string) func() error, wasmbox, home, example string) ([]row, error) {
	if ok, err := testregistry.Available(); !ok {
		why := "not installed"
		if err != nil {
			why = err.Error()
		}
		return []row{{"pull + first run from a local registry", "skipped", "docker-registry or skopeo " + why}}, nil
	}
	dir, err := os.MkdirTemp("", "wasmbox-bench-registry-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	reg, err := testregistry.Start(filepath.Join(dir, "registry"))
	if err != nil {
		return nil, err
	}
	defer reg.Close()

	ref := reg.Host + "/bench/box:latest"
	if err := cmd("push", "-q", "bench", ref)(); err != nil {
		return nil, err
	}
	// Each time in a fresh home: an empty store, no compiled code.
	fresh := func(steps ...[]string) func() error {
		return func() error {
			h, err := os.MkdirTemp(dir, "home-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(h)
			for _, args := range steps {
				c := exec.Command(wasmbox, args...)
				c.Env = append(os.Environ(), "WASMBOX_HOME="+h)
				if out, err := c.CombinedOutput(); err != nil {
					return fmt.Errorf("%v: %v\n%s", args, err, out)
				}
			}
			return nil
		}
	}
	pull, err := median(5, fresh([]string{"pull", "-q", ref}))
	if err != nil {
		return nil, err
	}
	first, err := median(3, fresh([]string{"pull", "-q", ref}, []string{"run", ref, "true"}))
	if err != nil {
		return nil, err
	}
	rows := []row{
		{"`wasmbox pull` of " + example + " from a local registry (fresh home)", ms(pull), ""},
		{"pull + first `wasmbox run IMG true` (fresh home: empty compile cache)", ms(first), ""},
	}

	store, err := oci.OpenStore(filepath.Join(home, "oci"))
	if err != nil {
		return nil, err
	}
	for _, ex := range []struct{ dir, tag string }{
		{example, "bench"},
		{"examples/python-agent", "bench-python-agent"},
	} {
		if ex.tag != "bench" {
			if err := cmd("build", "-t", ex.tag, "--progress", "quiet", ex.dir)(); err != nil {
				return nil, err
			}
		}
		to := reg.Host + "/bench/" + ex.tag + ":latest"
		if err := cmd("push", "-q", ex.tag, to)(); err != nil {
			return nil, err
		}
		wire, err := registrySize(to)
		if err != nil {
			return nil, err
		}
		img, err := store.Resolve(ex.tag)
		if err != nil {
			return nil, err
		}
		stored := img.Descriptor.Size + img.Manifest.Config.Size
		for _, l := range img.Manifest.Layers {
			stored += l.Size
		}
		from, err := fromLine(filepath.Join(ex.dir, "Dockerfile"))
		if err != nil {
			return nil, err
		}
		source := fmt.Sprintf("its source image %s (linux/amd64): ", from)
		if n, err := sourceSize(from); err != nil {
			source += "not measured: " + err.Error()
		} else {
			source += units.Size(n) + fmt.Sprintf(" in its registry (%.2fx the box)", float64(n)/float64(wire))
		}
		rows = append(rows, row{
			"size of " + ex.dir + " in a registry (manifest, config, gzip layers)",
			units.Size(wire),
			fmt.Sprintf("%s in the store (uncompressed); %s", units.Size(stored), source),
		})
	}
	return rows, nil
}

// registrySize is the bytes a registry holds for ref: manifest, config and
// layers as they travel.
func registrySize(ref string) (int64, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return 0, err
	}
	d, err := remote.Get(r)
	if err != nil {
		return 0, err
	}
	img, err := d.Image()
	if err != nil {
		return 0, err
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := d.Size + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}

// fromLine is the image the Dockerfile's first FROM names.
func fromLine(dockerfile string) (string, error) {
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			return f[1], nil
		}
	}
	return "", errors.New(dockerfile + ": no FROM")
}

// sourceSize is the bytes the image ref (linux/amd64 of an index) takes in
// its registry: manifest, config and compressed layers. Offline it fails,
// saying the registry cannot be reached.
func sourceSize(ref string) (int64, error) {
	img, err := oci.RemoteImage(context.Background(), ref)
	if err != nil {
		if errors.Is(err, oci.ErrUnreachable) {
			return 0, errors.New("its registry cannot be reached from here")
		}
		return 0, err
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
