package convert

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/internal/envlist"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

// WithBuildContext makes FROM NAME and COPY --from=NAME take the image of
// bc (an OCI layout, a docker-archive tarball, a registry reference), as
// docker buildx's --build-context. Default: none.
func WithBuildContext(bc oci.BuildContext) Option {
	return func(o *options) error {
		for _, c := range o.contexts {
			if c.Name == bc.Name {
				return fmt.Errorf("--build-context %s given twice", bc.Name)
			}
		}
		o.contexts = append(o.contexts, bc)
		return nil
	}
}

// WithRegistry lets FROM and COPY --from pull an image that is neither a
// stage, a box of the store nor a build context from its registry, with
// opts (insecure registries...). When the registry cannot be reached, a
// base of the static catalog stands in, with a warning. Default: no
// registry is asked; such names take the static catalog's bases.
func WithRegistry(opts ...oci.Option) Option {
	return func(o *options) error {
		o.registry = true
		o.registryOpts = append(o.registryOpts, opts...)
		return nil
	}
}

// WithKeepNative keeps the native files of imported images as inert files
// instead of pruning them. Default: pruned.
func WithKeepNative() Option {
	return func(o *options) error { o.keepNative = true; return nil }
}

// buildContext returns the build context name refers to: by its exact
// name, or the same repository and tag once normalized.
func (b *builder) buildContext(name string) (oci.BuildContext, bool) {
	for _, bc := range b.opts.contexts {
		if bc.Name == name {
			return bc, true
		}
	}
	for _, bc := range b.opts.contexts {
		if oci.SameImageName(bc.Name, name) {
			return bc, true
		}
	}
	return oci.BuildContext{}, false
}

// boxStage starts a stage on a box of the store, its layers and config as
// they are.
func (b *builder) boxStage(img *oci.Image) (*stage, error) {
	st := &stage{b: b, image: img.Config, key: cacheKey("box", img.Descriptor.Digest.String())}
	st.image.Created = nil
	for _, l := range img.Manifest.Layers {
		t, err := b.openLayer(l)
		if err != nil {
			return nil, err
		}
		st.layers = append(st.layers, l)
		st.trees = append(st.trees, t)
	}
	if img.Config.Created != nil {
		st.time = *img.Config.Created
	}
	return st, nil
}

// importStage imports a foreign image (or reuses the store's earlier
// import of it) and starts a stage on the box.
func (b *builder) importStage(img v1.Image, shown string, out func(string)) (*stage, []string, error) {
	desc, rep, err := oci.Import(b.ctx, b.store, img, b.importOptions(shown)...)
	if err != nil {
		return nil, nil, err
	}
	return b.fetchedStage(desc, rep, shown, out)
}

// importOptions are the options an image named shown is imported with.
func (b *builder) importOptions(shown string) []oci.ImportOption {
	opts := []oci.ImportOption{oci.WithKeepNative(b.opts.keepNative), oci.WithSourceName(shown)}
	if b.opts.shimsDir != "" {
		opts = append(opts, oci.WithShimsDir(b.opts.shimsDir))
	}
	if b.opts.noCache {
		opts = append(opts, oci.WithoutImportCache())
	}
	return opts
}

// fetchedStage starts a stage on the box desc that an import or a fetch
// put in the store; rep is the import's report, nil for a box fetched as
// it was.
func (b *builder) fetchedStage(desc ocispec.Descriptor, rep *oci.Report, shown string, out func(string)) (*stage, []string, error) {
	box, err := b.store.Load(desc)
	if err != nil {
		return nil, nil, err
	}
	st, err := b.boxStage(box)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := envlist.Lookup(st.image.Config.Env, "PATH"); !ok {
		// As Docker: a base without PATH gets the default one.
		st.image.Config.Env = append([]string{"PATH=" + runtime.DefaultPath}, st.image.Config.Env...)
	}
	if rep == nil {
		if out != nil {
			out(fmt.Sprintf("pulled %s: a box, taken as it is (manifest %s)\n", shown, shortDigest(desc.Digest.String())))
		}
		return st, nil, nil
	}
	if out != nil {
		out(importReport(rep, shown))
	}
	var warnings []string
	if len(rep.Dropped) > 0 {
		warnings = append(warnings, fmt.Sprintf("%s: %d layer entries were dropped (hostile or not for a box; see the step's output)", shown, len(rep.Dropped)))
	}
	warnings = append(warnings, rep.Warnings...)
	return st, warnings, nil
}

// importReport is the short report of an import, one line plus the
// dropped entries.
func importReport(rep *oci.Report, shown string) string {
	var sb strings.Builder
	state := "imported"
	if rep.Cached {
		state = "imported before (CACHED)"
	}
	fmt.Fprintf(&sb, "%s %s (config %s): %s\n", state, shown, shortDigest(rep.Digest), rep.Summary())
	for _, d := range rep.Dropped {
		fmt.Fprintf(&sb, "dropped %s\n", d)
	}
	return sb.String()
}

func shortDigest(d string) string {
	if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return hex[:12]
	}
	return d
}
