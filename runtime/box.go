package runtime

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/boxlayout"
	"github.com/wasmbox/wasmbox/internal/envlist"
)

// Box is a box opened for running: the read-only layers of its file system
// and what its image config says about running it. Open it once and run it
// many times, concurrently if need be: each run gets its own writable layer
// (Overlay). Close it when done.
type Box struct {
	digest string
	config ImageConfig
	tree   fsimage.Tree
	closer io.Closer
	// digests: of its modules, for every run (see moduleDigests).
	digests *moduleDigests
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
// unpacked). ref is what `wasmbox run` takes: a name as the layout's index
// records it (org.opencontainers.image.ref.name; "app" stands for
// "app:latest"), a manifest digest ("sha256:" optional) or a unique prefix
// of at least 4 hex digits of one. Manifests and the config are checked
// against their digests; layers against their sizes, and as file system
// images when read.
func OpenBox(dir, ref string) (*Box, error) {
	lb, err := boxlayout.Resolve(dir, ref)
	if err != nil {
		return nil, err
	}
	tree, closer, err := lb.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	c := lb.Config.Config
	return &Box{digest: lb.Descriptor.Digest.String(), tree: tree, closer: closer, digests: &moduleDigests{}, config: ImageConfig{
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User,
	}}, nil
}

// Digest is the box's manifest digest.
func (b *Box) Digest() string { return b.digest }

// Config is what the box's image config says about running it.
func (b *Box) Config() ImageConfig { return b.config }

// Overlay returns a new writable layer over the box's file system, for one
// run (or several that should see each other's changes).
func (b *Box) Overlay() *Overlay {
	o := NewOverlay(b.tree)
	if b.digests != nil {
		o.fs.digests = b.digests
	}
	o.fs.box = b
	return o
}

// Command is the command `docker run IMAGE args...` would run: the
// ENTRYPOINT followed by args, or by the CMD when args is empty. RunBox
// adds the rest of the image's config.
func (b *Box) Command(args ...string) Cmd {
	c := b.config
	argv := append([]string{}, c.Entrypoint...)
	if len(args) > 0 {
		argv = append(argv, args...)
	} else {
		argv = append(argv, c.Cmd...)
	}
	return Cmd{Args: argv}
}

// apply completes cmd with the image's config as docker run does: the
// image's environment with HOSTNAME set (cmd.Env wins), its working
// directory and USER unless cmd sets them, its ENTRYPOINT and CMD when
// cmd has no Args.
func (b *Box) apply(cmd Cmd) Cmd {
	c := b.config
	if len(cmd.Args) == 0 {
		cmd.Args = b.Command().Args
	}
	hostname := cmd.Hostname
	if hostname == "" {
		hostname = DefaultHostname
	}
	env := append([]string{}, c.Env...)
	if _, ok := envlist.Lookup(env, "HOSTNAME"); !ok {
		env = append(env, "HOSTNAME="+hostname)
	}
	for _, kv := range cmd.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = envlist.Set(env, k, v)
	}
	cmd.Env = env
	if cmd.Dir == "" {
		cmd.Dir = c.WorkingDir
	}
	if cmd.User == "" {
		cmd.User = c.User
	}
	return cmd
}

// Close releases the box's layers. Runs in progress must have ended.
func (b *Box) Close() error {
	if b.closer == nil {
		return nil
	}
	err := b.closer.Close()
	b.closer = nil
	return err
}

// RunBox runs cmd on a new writable layer over box (see Run), as docker
// run does: cmd.Env over the image's environment (and HOSTNAME), the
// image's working directory and USER unless cmd.Dir and cmd.User are
// set, the image's ENTRYPOINT and CMD when cmd.Args is empty (Command
// combines them with arguments).
func (r *Runtime) RunBox(ctx context.Context, box *Box, cmd Cmd) error {
	return r.Run(ctx, box.Overlay(), box.apply(cmd))
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

// WarmBox readies every Wasm module of the box in this Runtime's memory,
// compiling it or, when the compilation cache has it, loading it from
// there, so that no run of the box compiles or loads anything: for a
// Runtime that outlives its runs (a server). It readies the snapshots of
// the box's programs too (SnapshotBox), whose failure it does not report:
// such a program runs from _start. PrecompileBox, for a process that
// exits, only fills the cache on disk.
func (r *Runtime) WarmBox(ctx context.Context, box *Box) error {
	paths, err := box.wasmModules()
	if err != nil || len(paths) == 0 {
		return err
	}
	if err := r.precompile(ctx, box.Overlay().fs, true, paths); err != nil {
		return err
	}
	// A program whose snapshot fails runs from _start.
	_ = r.SnapshotBox(ctx, box)
	return ctx.Err()
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
