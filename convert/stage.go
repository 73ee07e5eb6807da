package convert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/engine"
	"github.com/wasmbox/wasmbox/internal/envlist"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
	"github.com/wasmbox/wasmbox/shims"
)

// stage is the state of the stage being built.
type stage struct {
	b      *builder
	name   string
	image  dockerspec.DockerOCIImage
	layers []ocispec.Descriptor
	trees  []fsimage.Tree
	cmdSet bool     // CMD was set in this stage (ENTRYPOINT then keeps it)
	args   []string // KEY=VALUE of the ARGs declared in the stage
	key    string   // build cache key of the file system so far
	// time is when the last layer of the stage was made (from the cache
	// for a cached step): history entries and the box's creation time
	// take it, so an unchanged rebuild gives the same digest.
	time   time.Time
	cached bool // the last step came from the cache
	// programs are the Wasm modules the base layers put in the box.
	programs []string
}

func (s *stage) clone() *stage {
	c := *s
	c.layers = append([]ocispec.Descriptor(nil), s.layers...)
	c.trees = append([]fsimage.Tree(nil), s.trees...)
	c.programs = append([]string(nil), s.programs...)
	c.image.Config.Env = append([]string(nil), s.image.Config.Env...)
	c.image.Config.Labels = cloneMap(s.image.Config.Labels)
	c.image.History = append([]ocispec.History(nil), s.image.History...)
	c.image.Config.Volumes = cloneSet(s.image.Config.Volumes)
	c.image.Config.ExposedPorts = cloneSet(s.image.Config.ExposedPorts)
	c.image.Config.Shell = append([]string(nil), s.image.Config.Shell...)
	c.image.Config.OnBuild = append([]string(nil), s.image.Config.OnBuild...)
	c.cmdSet = false
	c.args = nil // ARGs are scoped to their stage
	return &c
}

func cloneSet(m map[string]struct{}) map[string]struct{} {
	if m == nil {
		return nil
	}
	c := make(map[string]struct{}, len(m))
	for k := range m {
		c[k] = struct{}{}
	}
	return c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (b *builder) buildStage(stages []instructions.Stage, i int) (*stage, error) {
	sd := stages[i]
	step := b.firstStep[i]
	start := time.Now()
	ev := Event{Step: step, Line: line(sd.Location), Instruction: strings.TrimSpace(sd.SourceCode)}
	b.emit(ev)
	st, err := b.from(stages, i, func(msg string) { b.emit(Event{Step: step, Output: []byte(msg)}) })
	if err != nil {
		return nil, atLocation(b.file, sd.Location, err)
	}
	ev.Done, ev.Duration = true, time.Since(start)
	b.emit(ev)
	for _, c := range sd.Commands {
		step++
		start := time.Now()
		ev := Event{Step: step, Line: line(c.Location()), Instruction: fmt.Sprint(c)}
		b.emit(ev)
		st.cached = false
		if err := st.dispatch(c, ev); err != nil {
			return nil, atLocation(b.file, c.Location(), err)
		}
		ev.Done, ev.Duration, ev.Cached = true, time.Since(start), st.cached
		b.emit(ev)
	}
	return st, nil
}

func line(loc []parser.Range) int {
	if len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

// from starts a stage: from an earlier stage, or from the image it
// names (see imageStage). out receives the import report.
func (b *builder) from(stages []instructions.Stage, i int, out func(string)) (*stage, error) {
	sd := stages[i]
	platform := ""
	if sd.Platform != "" {
		var err error
		platform, err = b.expander(b.globalArgs)(sd.Platform)
		if err != nil {
			return nil, fmt.Errorf("FROM --platform=%s: %w", sd.Platform, err)
		}
		if platform != "wasip1/wasm" {
			b.warn(line(sd.Location), fmt.Sprintf("FROM --platform=%s: a box is always wasip1/wasm; the base's stand-ins are used", platform))
		}
	}
	baseName, err := b.baseName(sd)
	if err != nil {
		return nil, err
	}
	if j := stageIndex(stages[:i], baseName); j >= 0 {
		b.mu.Lock()
		st := b.built[j].clone()
		b.mu.Unlock()
		st.name = sd.Name
		st.cached = false
		if err := st.runTriggers(); err != nil {
			return nil, err
		}
		return st, nil
	}
	st, warnings, err := b.imageStage(baseName, sd.BaseName, platform, out)
	if err != nil {
		return nil, fmt.Errorf("FROM %s: %w", baseName, err)
	}
	for _, w := range warnings {
		b.warn(line(sd.Location), "FROM "+w)
	}
	st.name = sd.Name
	if err := st.runTriggers(); err != nil {
		return nil, err
	}
	return st, nil
}

// imageStage makes a stage of the image name, looked for in this order:
// a box of the store (its layers and config as they are), a build context
// of that name, the image's registry (when registries are enabled), else a
// base of the static catalog (the Wasm stand-ins alone). A foreign image
// is imported (oci.Import). shown is the name as the Dockerfile wrote it;
// platform the FROM's --platform (picks an index's image); out, when not
// nil, receives the import report.
func (b *builder) imageStage(name, shown, platform string, out func(string)) (*stage, []string, error) {
	if img, err := b.store.Resolve(name); err == nil {
		st, err := b.boxStage(img)
		return st, nil, err
	}
	srcOpts := append([]oci.Option(nil), b.opts.registryOpts...)
	if platform != "" && platform != oci.OS+"/"+oci.Architecture {
		srcOpts = append(srcOpts, oci.WithPlatform(platform))
	}
	if bc, ok := b.buildContext(name); ok {
		img, err := bc.Image(b.ctx, srcOpts...)
		if err != nil {
			return nil, nil, fmt.Errorf("--build-context %s=%s: %w", bc.Name, bc, err)
		}
		return b.importStage(img, bc.String(), out)
	}
	unreachable := ""
	if b.opts.registry && name != "scratch" {
		desc, rep, err := oci.Fetch(b.ctx, b.store, name, append(srcOpts, oci.WithImportOptions(b.importOptions(name)...))...)
		switch {
		case err == nil:
			return b.fetchedStage(desc, rep, name, out)
		case errors.Is(err, oci.ErrUnreachable):
			unreachable = err.Error()
		default:
			return nil, nil, err
		}
	}
	base, warning, err := shims.Lookup(name)
	if err != nil {
		if unreachable != "" {
			return nil, nil, fmt.Errorf("%w, and %s", err, unreachable)
		}
		return nil, nil, err
	}
	var warnings []string
	if unreachable != "" {
		warnings = append(warnings, fmt.Sprintf("%s: the registry cannot be reached (%s): the static catalog's %s base stands in for it (the image's own files and config are not used)", shown, unreachable, base))
	}
	if warning != "" {
		warnings = append(warnings, warning)
	}

	st := &stage{b: b, key: cacheKey("scratch")}
	st.image.Config.Env = []string{"PATH=" + runtime.DefaultPath}
	if base == shims.Scratch {
		return st, warnings, nil
	}
	dir := b.opts.shimsDir
	if dir == "" {
		if dir, err = shims.Dir(); err != nil {
			return nil, nil, err
		}
	}
	var digests []string
	for _, layer := range base.Layers() {
		desc, err := b.baseLayer(layer, dir)
		if err != nil {
			return nil, nil, err
		}
		if err := st.addLayer(desc, fmt.Sprintf("wasmbox %s base for %s", layer, shown)); err != nil {
			return nil, nil, err
		}
		digests = append(digests, desc.Digest.String())
		st.programs = append(st.programs, layer.Programs()...)
	}
	st.key = cacheKey(append([]string{"base"}, digests...)...)
	st.image.Config.Cmd = []string{"/bin/sh"}
	if base == shims.Python {
		// As the official python images.
		st.image.Config.Env = append(st.image.Config.Env, "LANG=C.UTF-8", "PYTHON_VERSION="+shims.PythonVersion)
		st.image.Config.Cmd = []string{"python3"}
	}
	return st, warnings, nil
}

// baseLayer puts the layer of a base into the store. The same stand-ins
// give the same bytes, so the same digest; the build cache remembers it by
// the stand-ins' stamp, so a rebuild does not write and hash it again.
func (b *builder) baseLayer(layer shims.Base, dir string) (ocispec.Descriptor, error) {
	stamp, err := shims.Stamp(layer, dir)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	key := cacheKey("base-layer", stamp)
	if desc, _, ok := b.store.CacheGet(key); ok && desc != nil {
		return *desc, nil
	}
	var buf bytes.Buffer
	if _, err := shims.WriteBase(&buf, layer, dir); err != nil {
		return ocispec.Descriptor{}, err
	}
	desc, err := b.store.WriteBlob(oci.MediaTypeFSImage, buf.Bytes())
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, b.store.CachePut(key, &desc, time.Time{})
}

func (s *stage) addLayer(desc ocispec.Descriptor, createdBy string) error {
	t, err := s.b.openLayer(desc)
	if err != nil {
		return err
	}
	s.layers = append(s.layers, desc)
	s.trees = append(s.trees, t)
	s.image.History = append(s.image.History, ocispec.History{CreatedBy: createdBy, Created: ptrTime(s.b.stamp(s.time))})
	return nil
}

func (s *stage) addEmptyHistory(createdBy string) {
	s.image.History = append(s.image.History, ocispec.History{CreatedBy: createdBy, Created: ptrTime(s.b.stamp(s.time)), EmptyLayer: true})
}

// overlay returns a fresh writable overlay over the stage's layers, to run
// in, and its file system, to write in and to commit.
func (s *stage) overlay() (*runtime.Overlay, engine.FS) {
	var lower fsimage.Tree
	if len(s.trees) > 0 {
		lower = fsimage.Stack(s.trees...)
	}
	ov := runtime.NewOverlay(lower)
	return ov, engine.Of(ov)
}

// commit turns what ov changed into a layer of the stage, and records
// it in the build cache under key.
func (s *stage) commit(ov engine.FS, createdBy, key string) error {
	// The layer goes to a file, then to the store: it is never held
	// whole in memory.
	tmp, err := os.CreateTemp(s.b.store.Dir(), ".layer-*")
	if err != nil {
		return fmt.Errorf("writing the layer: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := ov.WriteLayer(tmp, s.b.opts.epoch)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("writing the layer: %w", err)
	}
	s.key = key
	s.time = time.Now().UTC().Truncate(time.Second)
	if n == 0 {
		s.addEmptyHistory(createdBy)
		return s.b.store.CachePut(key, nil, s.time)
	}
	desc, err := s.b.store.PutBlob(oci.MediaTypeFSImage, tmp)
	if err != nil {
		return err
	}
	if err := s.addLayer(desc, createdBy); err != nil {
		return err
	}
	return s.b.store.CachePut(key, &desc, s.time)
}

func (s *stage) dispatch(c instructions.Command, ev Event) error {
	if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if err := ex.Expand(s.b.expander(s.expandEnv())); err != nil {
			return err
		}
	}
	switch c := c.(type) {
	case *instructions.ArgCommand:
		return s.dispatchArg(c)
	case *instructions.ExposeCommand:
		return s.dispatchExpose(c)
	case *instructions.UserCommand:
		s.image.Config.User = c.User
		s.addEmptyHistory("USER " + c.User)
		return nil
	case *instructions.VolumeCommand:
		if s.image.Config.Volumes == nil {
			s.image.Config.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return fmt.Errorf("VOLUME: empty path")
			}
			s.image.Config.Volumes[v] = struct{}{}
		}
		s.addEmptyHistory("VOLUME " + strings.Join(c.Volumes, " "))
		return nil
	case *instructions.StopSignalCommand:
		s.image.Config.StopSignal = c.Signal
		s.addEmptyHistory("STOPSIGNAL " + c.Signal)
		return nil
	case *instructions.ShellCommand:
		s.image.Config.Shell = append([]string{}, c.Shell...)
		s.addEmptyHistory(fmt.Sprintf("SHELL %q", c.Shell))
		return nil
	case *instructions.HealthCheckCommand:
		s.image.Config.Healthcheck = c.Health
		s.addEmptyHistory("HEALTHCHECK " + strings.Join(c.Health.Test, " "))
		return nil
	case *instructions.OnbuildCommand:
		s.image.Config.OnBuild = append(s.image.Config.OnBuild, c.Expression)
		s.addEmptyHistory("ONBUILD " + c.Expression)
		return nil
	case *instructions.MaintainerCommand:
		s.image.Author = c.Maintainer
		s.addEmptyHistory("MAINTAINER " + c.Maintainer)
		return nil
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			s.image.Config.Env = envlist.Set(s.image.Config.Env, kv.Key, kv.Value)
		}
		s.addEmptyHistory("ENV " + kvString(c.Env))
		return nil
	case *instructions.LabelCommand:
		if s.image.Config.Labels == nil {
			s.image.Config.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			s.image.Config.Labels[kv.Key] = kv.Value
		}
		s.addEmptyHistory("LABEL " + kvString(c.Labels))
		return nil
	case *instructions.WorkdirCommand:
		return s.dispatchWorkdir(c)
	case *instructions.CmdCommand:
		s.image.Config.Cmd = s.cmdline(c.ShellDependantCmdLine)
		s.cmdSet = true
		s.addEmptyHistory(fmt.Sprintf("CMD %q", s.image.Config.Cmd))
		return nil
	case *instructions.EntrypointCommand:
		s.image.Config.Entrypoint = s.cmdline(c.ShellDependantCmdLine)
		if !s.cmdSet {
			// Docker: an ENTRYPOINT drops a CMD inherited from the base.
			s.image.Config.Cmd = nil
		}
		s.addEmptyHistory(fmt.Sprintf("ENTRYPOINT %q", s.image.Config.Entrypoint))
		return nil
	case *instructions.CopyCommand:
		return s.dispatchCopy(c)
	case *instructions.AddCommand:
		return s.dispatchAdd(c)
	case *instructions.RunCommand:
		return s.dispatchRun(c, ev)
	}
	return fmt.Errorf("%s", notYet(c.Name()))
}

// cmdline is the argv of a CMD/ENTRYPOINT/RUN: the exec form as written,
// the shell form through /bin/sh -c.
func (s *stage) cmdline(c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		shell := s.image.Config.Shell
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		return append(append([]string{}, shell...), strings.Join(c.CmdLine, " "))
	}
	return append([]string{}, c.CmdLine...)
}

func (s *stage) dispatchWorkdir(c *instructions.WorkdirCommand) error {
	p := c.Path
	if !path.IsAbs(p) {
		p = path.Join(orRoot(s.image.Config.WorkingDir), p)
	}
	p = path.Clean(p)
	s.image.Config.WorkingDir = p
	key := cacheKey(s.key, "WORKDIR", p, s.image.Config.User)
	if hit, err := s.fromCache(key, "WORKDIR "+p); hit || err != nil {
		return err
	}
	_, ov := s.overlay()
	if err := s.applyUser(ov); err != nil {
		return err
	}
	if err := ov.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("WORKDIR %s: %w", p, err)
	}
	return s.commit(ov, "WORKDIR "+p, key)
}

func orRoot(dir string) string {
	if dir == "" {
		return "/"
	}
	return dir
}

func kvString(kvs instructions.KeyValuePairs) string {
	parts := make([]string, len(kvs))
	for i := range kvs {
		parts[i] = kvs[i].String()
	}
	return strings.Join(parts, " ")
}

// runTriggers runs the ONBUILD instructions of the base, as Docker does
// when a box is used as a base; the new box does not keep them.
func (s *stage) runTriggers() error {
	triggers := s.image.Config.OnBuild
	s.image.Config.OnBuild = nil
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil || len(res.AST.Children) != 1 {
			return fmt.Errorf("ONBUILD %s: not one instruction (%v)", t, err)
		}
		cmd, err := instructions.ParseInstruction(res.AST.Children[0])
		if err != nil {
			return fmt.Errorf("ONBUILD %s: %w", t, err)
		}
		c, ok := cmd.(instructions.Command)
		if !ok {
			return fmt.Errorf("ONBUILD %s: FROM cannot be a trigger", t)
		}
		if err := supported(c); err != nil {
			return fmt.Errorf("ONBUILD %s: %w", t, err)
		}
		if err := s.dispatch(c, Event{Instruction: t}); err != nil {
			return fmt.Errorf("ONBUILD %s: %w", t, err)
		}
	}
	return nil
}
