package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	gcrname "github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/internal/boxlayout"
)

// Sources of foreign images: a registry, an OCI image layout directory, a
// docker-archive tarball (docker save). Each yields a v1.Image for Import.

// ErrUnreachable is wrapped by RemoteImage's error when the registry could
// not be reached at all (no route, no name resolution, refused, timed
// out), as opposed to a registry that answered no.
var ErrUnreachable = errors.New("registry unreachable")

// RemoteImage looks ref up in its registry, anonymously or with the
// credentials of the keychain (WithKeychain), and returns the image (the
// platform's, for an index: WithPlatform). Layers are fetched when read,
// through the same guarded transport.
func RemoteImage(ctx context.Context, ref string, opts ...Option) (v1.Image, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	r, err := o.parseRef(ref)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, append(o.remoteOptions(), remote.WithContext(ctx), remote.WithPlatform(o.platform))...)
	if err != nil {
		return nil, registryError("pulling "+r.String(), err)
	}
	return img, nil
}

// registryError wraps err with what was being done, and with
// ErrUnreachable when the registry could not be reached at all.
func registryError(doing string, err error) error {
	if unreachable(err) {
		return fmt.Errorf("%s: %w: %w", doing, ErrUnreachable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// unreachable reports an error of the network, not of the registry.
func unreachable(err error) bool {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	return errors.As(err, &dnsErr) || errors.As(err, &opErr) || errors.Is(err, context.DeadlineExceeded)
}

// LayoutImage returns the image of the OCI image layout dir that tag
// names, by the reference rule of the store (internal/boxlayout.Find: a
// digest or a unique prefix of one, a name with "latest" as its default
// tag), else by its tag part alone (oci-layout://DIR:TAG, as buildx:
// skopeo and others name an image "3.20" or "alpine:3.20"); the only one
// when tag is empty. For an index, the platform's image.
func LayoutImage(dir, tag string, opts ...Option) (v1.Image, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	idx, err := boxlayout.ReadIndex(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	var found []ocispec.Descriptor
	var names []string
	for _, d := range idx.Manifests {
		names = append(names, d.Annotations[ocispec.AnnotationRefName])
	}
	switch d, _, err := boxlayout.Find(idx, tag); {
	case tag == "":
		found = idx.Manifests
	case err == nil:
		found = append(found, d)
	case errors.Is(err, boxlayout.ErrNotFound):
		for _, d := range idx.Manifests {
			if name := d.Annotations[ocispec.AnnotationRefName]; name == tag || strings.HasSuffix(name, ":"+tag) {
				found = append(found, d)
			}
		}
	default:
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	switch {
	case len(found) == 0 && tag == "":
		return nil, fmt.Errorf("OCI layout %s: index.json lists no image", dir)
	case len(found) == 0:
		return nil, fmt.Errorf("OCI layout %s: no image is named %q (names: %q)", dir, tag, names)
	case len(found) > 1:
		return nil, fmt.Errorf("OCI layout %s holds %d images: name one, oci-layout://%s:TAG (names: %q)", dir, len(found), dir, names)
	}
	h, err := v1.NewHash(found[0].Digest.String())
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	gidx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if types.MediaType(found[0].MediaType).IsIndex() {
		child, err := gidx.ImageIndex(h)
		if err != nil {
			return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
		}
		return platformImage(child, o.platform, "OCI layout "+dir)
	}
	img, err := gidx.Image(h)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return img, nil
}

// platformImage picks the image for platform in an index.
func platformImage(idx v1.ImageIndex, platform v1.Platform, where string) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		have = append(have, d.Platform.String())
		if d.Platform.Satisfies(platform) && d.MediaType.IsImage() {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			return img, nil
		}
	}
	return nil, fmt.Errorf("%s: no image for %s in the index (it has %s)", where, platform.String(), strings.Join(have, ", "))
}

// DockerArchiveImage returns the image of a docker-archive tarball (the
// output of docker save): the one tagged tag, or the only one when tag is
// empty.
func DockerArchiveImage(file, tag string) (v1.Image, error) {
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("docker archive: %w", err)
	}
	var t *gcrname.Tag
	if tag != "" {
		nt, err := gcrname.NewTag(tag)
		if err != nil {
			return nil, fmt.Errorf("docker archive %s: tag %q: %w", file, tag, err)
		}
		t = &nt
	}
	img, err := tarball.ImageFromPath(file, t)
	if err != nil {
		return nil, fmt.Errorf("docker archive %s: %w", file, err)
	}
	return img, nil
}

// BuildContext is a named image source of a build, as buildx's
// --build-context NAME=SOURCE: a FROM or COPY --from that names NAME
// takes it.
type BuildContext struct {
	Name string
	// Kind is "oci-layout", "docker-archive" or "docker-image".
	Kind string
	// Path is the layout directory or the archive file; Ref the tag or
	// digest in it, or the registry reference of docker-image.
	Path, Ref string
}

// ParseBuildContext reads NAME=oci-layout://DIR[:TAG|@sha256:...],
// NAME=docker-archive://FILE[:TAG] or NAME=docker-image://REF.
func ParseBuildContext(flag string) (BuildContext, error) {
	name, src, ok := strings.Cut(flag, "=")
	if !ok || name == "" || src == "" {
		return BuildContext{}, fmt.Errorf("--build-context %q: want NAME=oci-layout://DIR[:TAG], NAME=docker-archive://FILE or NAME=docker-image://REF", flag)
	}
	kind, rest, ok := strings.Cut(src, "://")
	if !ok {
		return BuildContext{}, fmt.Errorf("--build-context %q: %q is not a source wasmbox takes (a local directory context is not supported): want oci-layout://, docker-archive:// or docker-image://", flag, src)
	}
	bc := BuildContext{Name: name, Kind: kind}
	switch kind {
	case "oci-layout", "docker-archive":
		bc.Path = rest
		if i := strings.LastIndex(rest, "@"); i >= 0 && kind == "oci-layout" {
			bc.Path, bc.Ref = rest[:i], rest[i+1:]
		} else if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
			bc.Path, bc.Ref = rest[:i], rest[i+1:]
		}
		if bc.Path == "" {
			return BuildContext{}, fmt.Errorf("--build-context %q: no path after %s://", flag, kind)
		}
	case "docker-image":
		if _, err := gcrname.ParseReference(rest); err != nil {
			return BuildContext{}, fmt.Errorf("--build-context %q: %w", flag, err)
		}
		bc.Ref = rest
	default:
		return BuildContext{}, fmt.Errorf("--build-context %q: unknown source kind %q: want oci-layout, docker-archive or docker-image", flag, kind)
	}
	return bc, nil
}

// String is the source as written after NAME=.
func (bc BuildContext) String() string {
	switch {
	case bc.Kind == "docker-image":
		return "docker-image://" + bc.Ref
	case bc.Ref == "":
		return bc.Kind + "://" + bc.Path
	case strings.HasPrefix(bc.Ref, "sha256:"):
		return bc.Kind + "://" + bc.Path + "@" + bc.Ref
	}
	return bc.Kind + "://" + bc.Path + ":" + bc.Ref
}

// Image opens the context's image.
func (bc BuildContext) Image(ctx context.Context, opts ...Option) (v1.Image, error) {
	switch bc.Kind {
	case "oci-layout":
		return LayoutImage(bc.Path, bc.Ref, opts...)
	case "docker-archive":
		return DockerArchiveImage(bc.Path, bc.Ref)
	case "docker-image":
		return RemoteImage(ctx, bc.Ref, opts...)
	}
	return nil, fmt.Errorf("build context %s: unknown kind %q", bc.Name, bc.Kind)
}

// SameImageName reports whether two image references name the same
// repository and tag once normalized ("alpine" and
// "docker.io/library/alpine:latest").
func SameImageName(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := gcrname.ParseReference(a)
	rb, err2 := gcrname.ParseReference(b)
	return err1 == nil && err2 == nil && ra.Name() == rb.Name()
}
