package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
)

// MediaTypeFSImage is the media type of a box's layers in an image layout
// (oci/SPEC.md).
const MediaTypeFSImage = "application/vnd.wasmbox.fsimage.v1"

// maxMetadata bounds the manifests, indexes and configs OpenBox reads.
const maxMetadata = 4 << 20

// Box is a box opened for running: the read-only layers of its file system
// and what its image config says about running it. Open it once and run it
// many times, concurrently if need be: each run gets its own writable layer
// (Overlay). Close it when done.
type Box struct {
	digest string
	config ImageConfig
	tree   fsimage.Tree
	files  []*os.File
}

// ImageConfig is the part of a box's image config that running it uses.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
}

// OpenBox opens the box ref of the OCI image layout in dir (wasmbox's
// store, $WASMBOX_HOME/oci, is one; so is what `wasmbox save` writes, once
// unpacked). ref is a name as the layout's index records it
// (org.opencontainers.image.ref.name; "app" stands for "app:latest") or a
// manifest digest, "sha256:" and all. Manifests and the config are checked
// against their digests; layers are checked as file system images when
// read.
func OpenBox(dir, ref string) (*Box, error) {
	desc, err := findInLayout(dir, ref)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := readJSONBlob(dir, desc, &m); err != nil {
		return nil, err
	}
	if m.Config.MediaType != ocispec.MediaTypeImageConfig {
		return nil, fmt.Errorf("%s: manifest %s: config media type %q is not an image config", ref, desc.Digest, m.Config.MediaType)
	}
	var img ocispec.Image
	if err := readJSONBlob(dir, m.Config, &img); err != nil {
		return nil, err
	}
	if img.OS != "wasip1" || img.Architecture != "wasm" {
		return nil, fmt.Errorf("%s: platform %s/%s is not a box (wasip1/wasm)", ref, img.OS, img.Architecture)
	}
	b := &Box{digest: desc.Digest.String(), config: ImageConfig{
		Entrypoint: img.Config.Entrypoint, Cmd: img.Config.Cmd, Env: img.Config.Env,
		WorkingDir: img.Config.WorkingDir, User: img.Config.User,
	}}
	var trees []fsimage.Tree
	for i, l := range m.Layers {
		if l.MediaType != MediaTypeFSImage {
			b.Close()
			return nil, fmt.Errorf("%s: layer %d: media type %q is not %q", ref, i, l.MediaType, MediaTypeFSImage)
		}
		p, err := blobPath(dir, l.Digest)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("%s: layer %d: %w", ref, i, err)
		}
		f, err := os.Open(p)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("%s: layer %d: %w", ref, i, err)
		}
		b.files = append(b.files, f)
		st, err := f.Stat()
		if err != nil || st.Size() != l.Size {
			b.Close()
			return nil, fmt.Errorf("%s: layer %d (%s): size differs from the manifest's %d", ref, i, l.Digest, l.Size)
		}
		t, err := fsimage.Open(f, l.Size)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("%s: layer %d (%s): %w", ref, i, l.Digest, err)
		}
		trees = append(trees, t)
	}
	b.tree = fsimage.Stack(trees...)
	return b, nil
}

// Digest is the box's manifest digest.
func (b *Box) Digest() string { return b.digest }

// Config is what the box's image config says about running it.
func (b *Box) Config() ImageConfig { return b.config }

// Overlay returns a new writable layer over the box's file system, for one
// run (or several that should see each other's changes).
func (b *Box) Overlay() *Overlay { return NewOverlay(b.tree) }

// Command is the command `docker run IMAGE args...` would run: the
// ENTRYPOINT followed by args, or by the CMD when args is empty; the
// image's environment (with HOME=/root and HOSTNAME=wasmbox unless set) and
// working directory.
func (b *Box) Command(args ...string) Cmd {
	c := b.config
	argv := append([]string{}, c.Entrypoint...)
	if len(args) > 0 {
		argv = append(argv, args...)
	} else {
		argv = append(argv, c.Cmd...)
	}
	env := append([]string{}, c.Env...)
	for _, kv := range []string{"HOSTNAME=wasmbox", "HOME=/root"} {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := lookupEnv(env, k); !ok {
			env = append(env, kv)
		}
	}
	return Cmd{Args: argv, Env: env, Dir: c.WorkingDir}
}

// Close releases the box's layers. Runs in progress must have ended.
func (b *Box) Close() error {
	var errs []error
	for _, f := range b.files {
		errs = append(errs, f.Close())
	}
	b.files = nil
	return errors.Join(errs...)
}

// RunBox runs cmd on a new writable layer over box (see Run).
func (r *Runtime) RunBox(ctx context.Context, box *Box, cmd Cmd) error {
	return r.Run(ctx, box.Overlay(), cmd)
}

// findInLayout finds ref among the manifests of the layout's index.
func findInLayout(dir, ref string) (ocispec.Descriptor, error) {
	data, err := readLimited(filepath.Join(dir, ocispec.ImageIndexFile))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("opening the image layout %s: %w", dir, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("image layout %s: index.json: %w", dir, err)
	}
	var found []ocispec.Descriptor
	for _, d := range idx.Manifests {
		if d.MediaType != ocispec.MediaTypeImageManifest {
			continue
		}
		name := d.Annotations[ocispec.AnnotationRefName]
		switch {
		case strings.HasPrefix(ref, "sha256:") && d.Digest.String() == ref,
			name != "" && (name == ref || name == ref+":latest"):
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 0:
		return ocispec.Descriptor{}, fmt.Errorf("%s: no such box in the image layout %s", ref, dir)
	case len(found) > 1 && found[0].Digest != found[1].Digest:
		return ocispec.Descriptor{}, fmt.Errorf("%s: several boxes of the image layout %s have that name", ref, dir)
	}
	return found[0], nil
}

// readJSONBlob reads the blob desc of the layout, checks its digest and
// decodes it into v.
func readJSONBlob(dir string, desc ocispec.Descriptor, v any) error {
	p, err := blobPath(dir, desc.Digest)
	if err != nil {
		return err
	}
	data, err := readLimited(p)
	if err != nil {
		return err
	}
	if got := digest.FromBytes(data); got != desc.Digest {
		return fmt.Errorf("blob %s: content has digest %s: the layout is corrupt", desc.Digest, got)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	return nil
}

func blobPath(dir string, d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("digest %q: %w", d, err)
	}
	return filepath.Join(dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded()), nil
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetadata+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMetadata {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxMetadata)
	}
	return data, nil
}

// PrecompileBox compiles every Wasm module of the box (executable files
// that start with Wasm's magic), so that its first run after a pull or a
// load does not pay for compiling, when the Runtime has a compilation
// cache on disk.
func (r *Runtime) PrecompileBox(ctx context.Context, box *Box) error {
	paths, err := box.wasmModules()
	if err != nil || len(paths) == 0 {
		return err
	}
	return r.Precompile(ctx, box.Overlay(), paths...)
}

// wasmModules lists the box's Wasm modules: executable files that start
// with Wasm's magic, as absolute box paths.
func (box *Box) wasmModules() ([]string, error) {
	var paths []string
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := box.tree.Children(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			switch {
			case e.Type == fsimage.TypeDir:
				if err := walk(e.Path); err != nil {
					return err
				}
			case e.Type == fsimage.TypeReg && e.Mode&0o111 != 0 && e.Size >= 8:
				sr, err := box.tree.Content(e.Path)
				if err != nil {
					continue
				}
				head := make([]byte, 4)
				if _, err := sr.ReadAt(head, 0); err == nil && string(head) == string(wasmMagic) {
					paths = append(paths, "/"+e.Path)
				}
			}
		}
		return nil
	}
	err := walk(".")
	return paths, err
}
