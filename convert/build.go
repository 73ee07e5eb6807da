package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	gcrname "github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/patternmatcher"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
	"github.com/wasmbox/wasmbox/shims"
)

// Option configures Build.
type Option func(*options) error

type options struct {
	dockerfile string
	tags       []string
	target     string
	progress   func(Event)
	shimsDir   string
	epoch      time.Time
	buildArgs  map[string]string
	noCache    bool
	secrets    map[string][]byte
	client     *http.Client // ADD downloads; nil: not granted

	contexts     []oci.BuildContext
	registry     bool // FROM may pull from registries
	registryOpts []oci.Option
	keepNative   bool

	// limits and timeout bound each RUN (the zero Limits:
	// runtime.DefaultLimits, as for run; no timeout: none).
	limits  runtime.Limits
	timeout time.Duration

	// network is what RUN steps may reach; nil: public addresses and
	// names (Docker's default), networkSet: WithNetwork was given.
	network    *runtime.Network
	networkSet bool
}

// WithDockerfile names the Dockerfile. Default: Dockerfile in the context.
func WithDockerfile(path string) Option {
	return func(o *options) error { o.dockerfile = path; return nil }
}

// WithTags names the built box (name[:tag], tag default latest). Default:
// no name; the box is reachable by its digest.
func WithTags(tags ...string) Option {
	return func(o *options) error {
		for _, t := range tags {
			if _, err := oci.NormalizeRef(t); err != nil {
				return err
			}
		}
		o.tags = append(o.tags, tags...)
		return nil
	}
}

// WithTarget builds the stage named target. Default: the last stage.
func WithTarget(target string) Option {
	return func(o *options) error { o.target = target; return nil }
}

// WithBuildArgs sets build arguments (--build-arg), which ARG
// instructions pick up. Default: none.
func WithBuildArgs(args map[string]string) Option {
	return func(o *options) error {
		if o.buildArgs == nil {
			o.buildArgs = map[string]string{}
		}
		for k, v := range args {
			if k == "" || strings.ContainsAny(k, "= \t") {
				return fmt.Errorf("build argument %q: not a valid name", k)
			}
			o.buildArgs[k] = v
		}
		return nil
	}
}

// WithSecret gives the build the secret id, for RUN --mount=type=secret.
// A secret is never written to a layer, the cache key or the progress.
// Default: no secrets.
func WithSecret(id string, value []byte) Option {
	return func(o *options) error {
		if id == "" || strings.ContainsAny(id, "/ \t") {
			return fmt.Errorf("secret id %q: not a valid id", id)
		}
		if o.secrets == nil {
			o.secrets = map[string][]byte{}
		}
		o.secrets[id] = value
		return nil
	}
}

// WithDownloads lets ADD download http(s) URLs with client (wasmbox itself
// downloads, outside WithNetwork's policy, which is RUN's). Default: ADD
// of a URL fails, saying so.
func WithDownloads(client *http.Client) Option {
	return func(o *options) error {
		if client == nil {
			client = http.DefaultClient
		}
		o.client = client
		return nil
	}
}

// WithNetwork sets what RUN steps may reach (nil: nothing); RUN
// --network=none turns it off for one step. Default: every public address
// and name, as Docker's RUN has (loopback, private, link-local and
// metadata addresses only through a rule that names them).
func WithNetwork(n *runtime.Network) Option {
	return func(o *options) error {
		if n != nil && len(n.Publish) > 0 {
			return errors.New("a build publishes no ports")
		}
		o.network, o.networkSet = n, true
		return nil
	}
}

// WithNoCache runs every step even when the build cache has its result.
// Default: the cache is used.
func WithNoCache() Option {
	return func(o *options) error { o.noCache = true; return nil }
}

// WithProgress receives an Event as each step starts, prints and ends.
// Default: none.
func WithProgress(f func(Event)) Option {
	return func(o *options) error { o.progress = f; return nil }
}

// WithShimsDir takes the built Wasm stand-ins from dir. Default:
// shims.Dir().
func WithShimsDir(dir string) Option {
	return func(o *options) error { o.shimsDir = dir; return nil }
}

// WithLimits bounds each RUN step as runtime.Cmd.Limits bounds a run: a
// step that passes one fails the build. Default: the zero Limits, that is
// runtime.DefaultLimits, as for wasmbox run.
func WithLimits(l runtime.Limits) Option {
	return func(o *options) error { o.limits = l; return nil }
}

// layerLimit bounds the file data one COPY or ADD writes: its layer is
// held in memory until it is written, so the build's memory limit (as a
// RUN's files count against it). 0: none.
func (b *builder) layerLimit() int64 {
	return b.opts.limits.Effective().Memory
}

// layerFull is the error of a COPY or ADD past layerLimit.
func (b *builder) layerFull() error {
	return fmt.Errorf("the files of this step pass the build's memory limit of %s (a step's new files are held in memory until its layer is written; build --memory raises it)",
		units.In(b.layerLimit(), units.MiB))
}

// WithRunTimeout ends a RUN step that runs longer than d, failing the
// build. Default: none.
func WithRunTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("a negative RUN timeout (%s)", d)
		}
		o.timeout = d
		return nil
	}
}

// WithSourceDateEpoch sets the creation time recorded in the box and caps
// the modification time of the files RUN writes. Default: the
// SOURCE_DATE_EPOCH environment variable, else now (and no cap).
func WithSourceDateEpoch(t time.Time) Option {
	return func(o *options) error { o.epoch = t; return nil }
}

// Event is what a build reports as it goes.
type Event struct {
	Step, Total int    // this step of the target's Total steps (1-based)
	Line        int    // line of the instruction in the Dockerfile
	Instruction string // the instruction as written, e.g. "RUN make"
	Output      []byte // output of a running step, when not nil
	Done        bool   // the step has ended
	Cached      bool   // ...by reusing the build cache's result
	Duration    time.Duration
}

// Result is a built box.
type Result struct {
	Descriptor ocispec.Descriptor // of the manifest
	Config     dockerspec.DockerOCIImage
	// Warnings are things the user should know that did not stop the
	// build (build arguments nothing used, ...).
	Warnings []string
}

// builder holds what a build shares across stages.
type builder struct {
	ctx        context.Context
	opts       options
	file       string // Dockerfile name for messages
	contextDir string
	store      *oci.Store
	rt         *runtime.Runtime
	escape     rune
	metaArgs   []instructions.ArgCommand
	globalArgs []string // KEY=VALUE of the ARGs before the first FROM
	usedArgs   map[string]bool
	stages     []instructions.Stage
	built      map[int]*stage
	firstStep  map[int]int // step number of each stage's FROM

	// mu guards what stages built in parallel share: built, open,
	// warnings, usedArgs and the progress callback.
	mu       sync.Mutex
	ignore   *patternmatcher.PatternMatcher // .dockerignore; nil: none
	warnings []string
	total    int
	open     []io.Closer
	images   map[string]*stage // images named by --from, by name
}

// Build converts the Dockerfile of contextDir into a box in store, running
// RUN instructions with rt. A failed build's error carries the warnings
// recorded before it failed: see Warnings.
func Build(ctx context.Context, store *oci.Store, rt *runtime.Runtime, contextDir string, opts ...Option) (*Result, error) {
	b := &builder{ctx: ctx, store: store, rt: rt, contextDir: contextDir}
	res, err := b.build(opts)
	if err != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.warnings) > 0 {
			return nil, &warnedError{err: err, warnings: b.warnings}
		}
	}
	return res, err
}

// warnedError is a failed build's error with the warnings recorded before.
type warnedError struct {
	err      error
	warnings []string
}

func (e *warnedError) Error() string { return e.err.Error() }
func (e *warnedError) Unwrap() error { return e.err }

// Warnings returns the warnings a build that failed with err had recorded
// (a stand-in used for a base, a deprecated instruction...): they may say
// why it failed. Nil for any other error.
func Warnings(err error) []string {
	var w *warnedError
	if errors.As(err, &w) {
		return w.warnings
	}
	return nil
}

func (b *builder) build(opts []Option) (*Result, error) {
	store, contextDir := b.store, b.contextDir
	for _, o := range opts {
		if err := o(&b.opts); err != nil {
			return nil, err
		}
	}
	if b.opts.epoch.IsZero() {
		if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			sec, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", s)
			}
			b.opts.epoch = time.Unix(sec, 0).UTC()
		}
	}
	defer b.closeAll()
	df := b.opts.dockerfile
	if df == "" {
		df = filepath.Join(contextDir, "Dockerfile")
	}
	b.file = filepath.Base(df)
	src, err := os.ReadFile(df)
	if err != nil {
		return nil, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	stages, err := b.parse(src)
	if err != nil {
		return nil, err
	}
	if err := b.evalMetaArgs(); err != nil {
		return nil, err
	}
	if b.ignore, err = loadIgnore(contextDir, df); err != nil {
		return nil, err
	}
	target := len(stages) - 1
	if b.opts.target != "" {
		target = -1
		for i, s := range stages {
			if strings.EqualFold(s.Name, b.opts.target) {
				target = i
			}
		}
		if target < 0 {
			return nil, &Error{File: b.file, Err: fmt.Errorf("target stage %q not found", b.opts.target)}
		}
	}
	release, err := store.Lease()
	if err != nil {
		return nil, err
	}
	defer release()
	// Only the stages the target needs (through FROM <stage> and
	// COPY --from) are built, in Dockerfile order.
	b.stages = stages
	need := map[int]bool{}
	if err := b.markNeeded(target, need); err != nil {
		return nil, err
	}
	var order []int
	b.firstStep = map[int]int{}
	for i := range stages {
		if need[i] {
			order = append(order, i)
			b.firstStep[i] = b.total + 1
			b.total += 1 + len(stages[i].Commands)
		}
	}
	if err := b.buildAll(order); err != nil {
		return nil, err
	}
	built := b.built
	st := built[target]
	st.image.Created = ptrTime(b.stamp(st.time))
	st.image.OS, st.image.Architecture = oci.OS, oci.Architecture
	desc, err := store.Commit(st.image, st.layers)
	if err != nil {
		return nil, err
	}
	for _, t := range b.opts.tags {
		if err := store.Tag(t, desc); err != nil {
			return nil, err
		}
	}
	b.precompile(st)
	return &Result{Descriptor: desc, Config: st.image, Warnings: append(b.warnings, b.unusedArgWarnings()...)}, nil
}

// markNeeded marks stage i and the earlier stages it uses.
func (b *builder) markNeeded(i int, need map[int]bool) error {
	if need[i] {
		return nil
	}
	need[i] = true
	name, err := b.baseName(b.stages[i])
	if err != nil {
		return err
	}
	if j := stageIndex(b.stages[:i], name); j >= 0 {
		if err := b.markNeeded(j, need); err != nil {
			return err
		}
	}
	for _, c := range b.stages[i].Commands {
		for _, from := range fromRefs(c) {
			j, err := b.stageIndexOf(from.name, i)
			if err != nil {
				return atLocation(b.file, c.Location(), fmt.Errorf("%s: %w", from.what, err))
			}
			if j < 0 {
				continue // an image
			}
			if err := b.markNeeded(j, need); err != nil {
				return err
			}
		}
	}
	return nil
}

// fromRef is a stage an instruction reads (COPY --from, RUN --mount from=).
type fromRef struct {
	name string
	what string // the flag, for messages
}

func fromRefs(c instructions.Command) []fromRef {
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			return []fromRef{{c.From, "COPY --from=" + c.From}}
		}
	case *instructions.RunCommand:
		var out []fromRef
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				out = append(out, fromRef{m.From, fmt.Sprintf("RUN --mount=type=%s,from=%s", m.Type, m.From)})
			}
		}
		return out
	}
	return nil
}

// stageIndexOf finds the stage --from names (by name or index) among the
// stages before stage cur. It returns -1 when from names no stage but an
// image: a box of the store or a base of the catalog, as docker build
// takes an image name there.
func (b *builder) stageIndexOf(from string, cur int) (int, error) {
	name, err := b.expander(b.globalArgs)(from)
	if err != nil {
		return 0, err
	}
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 || n >= cur {
			return 0, fmt.Errorf("stage %d is not an earlier stage", n)
		}
		return n, nil
	}
	if j := stageIndex(b.stages[:cur], name); j >= 0 {
		return j, nil
	}
	if _, err := b.store.Resolve(name); err == nil {
		return -1, nil
	}
	if _, ok := b.buildContext(name); ok {
		return -1, nil
	}
	if _, _, err := shims.Lookup(name); err == nil {
		return -1, nil
	}
	if _, err := gcrname.ParseReference(name); err == nil && b.opts.registry {
		return -1, nil
	}
	return 0, fmt.Errorf("no earlier stage is named %q, and no box of the store nor base of the catalog (%s) either", name, strings.Join(shims.Known(), ", "))
}

// stageRef returns the built stage --from names, or the stage of the image
// it names.
func (b *builder) stageRef(from string) (*stage, error) {
	j, err := b.stageIndexOf(from, len(b.stages))
	if err != nil {
		return nil, err
	}
	if j < 0 {
		name, _ := b.expander(b.globalArgs)(from)
		return b.imageRef(name)
	}
	b.mu.Lock()
	st, ok := b.built[j]
	b.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("stage %q is not built yet", from)
	}
	return st, nil
}

// imageRef returns the stage of an image --from names, made once per build.
func (b *builder) imageRef(name string) (*stage, error) {
	b.mu.Lock()
	st, ok := b.images[name]
	b.mu.Unlock()
	if ok {
		return st, nil
	}
	st, _, err := b.imageStage(name, name, "", nil)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.images == nil {
		b.images = map[string]*stage{}
	}
	if prev, ok := b.images[name]; ok {
		return prev, nil
	}
	b.images[name] = st
	return st, nil
}

// warn records a warning about line of the Dockerfile (0: the file).
func (b *builder) warn(line int, msg string) {
	if line > 0 {
		msg = fmt.Sprintf("%s:%d: %s", b.file, line, msg)
	} else {
		msg = fmt.Sprintf("%s: %s", b.file, msg)
	}
	b.mu.Lock()
	b.warnings = append(b.warnings, msg)
	b.mu.Unlock()
}

// baseName is the image (or stage) a FROM names, with the global ARGs
// expanded.
func (b *builder) baseName(sd instructions.Stage) (string, error) {
	name, err := b.expander(b.globalArgs)(sd.BaseName)
	if err != nil {
		return "", atLocation(b.file, sd.Location, fmt.Errorf("FROM %s: %w", sd.BaseName, err))
	}
	if name == "" {
		return "", atLocation(b.file, sd.Location, fmt.Errorf("FROM %s: the image name is empty", sd.BaseName))
	}
	return name, nil
}

func ptrTime(t time.Time) *time.Time { return &t }

// stamp is the time recorded for something made at t: SOURCE_DATE_EPOCH
// when set, else t (the Unix epoch for what no step of this Dockerfile
// made, such as the base layer).
func (b *builder) stamp(t time.Time) time.Time {
	if !b.opts.epoch.IsZero() {
		return b.opts.epoch
	}
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}

func stageIndex(stages []instructions.Stage, name string) int {
	for i, s := range stages {
		if s.Name != "" && strings.EqualFold(s.Name, name) {
			return i
		}
	}
	return -1
}

// parse reads the Dockerfile into stages, refusing what is not supported
// with the line it is on.
func (b *builder) parse(src []byte) ([]instructions.Stage, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, &Error{File: b.file, Line: parseErrorLine(err), Err: err}
	}
	b.escape = res.EscapeToken
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		b.warn(line, w.Short)
	}
	// buildkit's linter, configured by a "# check=" directive as in
	// docker build.
	lintCfg := &linter.Config{}
	if check, _, _, ok := parser.ParseDirective("check", src); ok {
		if lintCfg, err = linter.ParseLintOptions(check); err != nil {
			return nil, &Error{File: b.file, Line: 1, Err: fmt.Errorf("# check=%s: %w", check, err)}
		}
	}
	lintCfg.Warn = func(rule, desc, url, msg string, loc []parser.Range) {
		b.warn(line(loc), fmt.Sprintf("%s: %s", rule, msg))
	}
	lint := linter.New(lintCfg)
	var stages []instructions.Stage
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseInstructionWithLinter(n, lint)
		if err != nil {
			return nil, &Error{File: b.file, Line: n.StartLine, Err: err}
		}
		switch c := cmd.(type) {
		case *instructions.Stage:
			stages = append(stages, *c)
		case instructions.Command:
			if len(stages) == 0 {
				if a, ok := c.(*instructions.ArgCommand); ok {
					b.metaArgs = append(b.metaArgs, *a)
					continue
				}
				return nil, &Error{File: b.file, Line: n.StartLine, Err: fmt.Errorf("%s before the first FROM: a Dockerfile starts with FROM", strings.ToUpper(c.Name()))}
			}
			if err := supported(c); err != nil {
				return nil, &Error{File: b.file, Line: n.StartLine, Err: err}
			}
			stages[len(stages)-1].AddCommand(c)
		default:
			return nil, &Error{File: b.file, Line: n.StartLine, Err: fmt.Errorf("%T is not an instruction", cmd)}
		}
	}
	if len(stages) == 0 {
		return nil, &Error{File: b.file, Err: errors.New("no FROM instruction: a Dockerfile must start with FROM")}
	}
	return stages, nil
}

func notYet(name string) string {
	return strings.ToUpper(name) + " is not supported yet"
}

// supported refuses instructions and options this version cannot honour,
// before anything is built.
func supported(c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.EnvCommand, *instructions.WorkdirCommand, *instructions.LabelCommand,
		*instructions.CmdCommand, *instructions.EntrypointCommand, *instructions.ArgCommand,
		*instructions.ExposeCommand, *instructions.UserCommand, *instructions.VolumeCommand,
		*instructions.StopSignalCommand, *instructions.ShellCommand, *instructions.MaintainerCommand,
		*instructions.HealthCheckCommand, *instructions.OnbuildCommand:
		return nil
	case *instructions.CopyCommand:
		return nil
	case *instructions.AddCommand:
		switch {
		case c.KeepGitDir != nil:
			return errors.New("ADD --keep-git-dir: git sources are not supported (COPY the sources from the build context)")
		}
		return nil
	case *instructions.RunCommand:
		for _, f := range c.FlagsUsed {
			if f != "network" && f != "mount" {
				return fmt.Errorf("RUN --%s is not supported yet", f)
			}
		}
		switch {
		case instructions.GetNetwork(c) == instructions.NetworkHost:
			return errors.New("RUN --network=host: a box never gets the host's network (it gets the build's: wasmbox build --network)")
		}
		return nil
	}
	return errors.New(notYet(c.Name()))
}

// expander returns the single-word expander of buildkit's lexer over env.
func (b *builder) expander(env []string) instructions.SingleWordExpander {
	lex := shell.NewLex(b.escape)
	return func(word string) (string, error) {
		s, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(env))
		return s, err
	}
}

func (b *builder) emit(e Event) {
	if b.opts.progress != nil {
		e.Total = b.total
		b.mu.Lock()
		b.opts.progress(e)
		b.mu.Unlock()
	}
}

// buildAll builds the stages of order, each as soon as the stages it uses
// are built: independent stages build in parallel. The first error wins.
func (b *builder) buildAll(order []int) error {
	b.built = map[int]*stage{}
	done := map[int]chan struct{}{}
	for _, i := range order {
		done[i] = make(chan struct{})
	}
	errs := make(chan error, len(order))
	for _, i := range order {
		go func() {
			defer close(done[i])
			for _, j := range b.deps(i) {
				<-done[j]
			}
			b.mu.Lock()
			ready := true
			for _, j := range b.deps(i) {
				ready = ready && b.built[j] != nil
			}
			b.mu.Unlock()
			if !ready {
				errs <- nil // a stage it needs failed; that error is reported
				return
			}
			st, err := b.buildStage(b.stages, i)
			if err != nil {
				errs <- err
				return
			}
			b.mu.Lock()
			b.built[i] = st
			b.mu.Unlock()
			errs <- nil
		}()
	}
	var first error
	for range order {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// deps lists the stages stage i uses (FROM, COPY --from, RUN --mount from=).
func (b *builder) deps(i int) []int {
	var out []int
	if name, err := b.baseName(b.stages[i]); err == nil {
		if j := stageIndex(b.stages[:i], name); j >= 0 {
			out = append(out, j)
		}
	}
	for _, c := range b.stages[i].Commands {
		for _, from := range fromRefs(c) {
			if j, err := b.stageIndexOf(from.name, i); err == nil && j >= 0 {
				out = append(out, j)
			}
		}
	}
	return out
}

func (b *builder) closeAll() {
	for _, c := range b.open {
		c.Close()
	}
}

// openLayer opens a layer blob of the store for reading.
func (b *builder) openLayer(desc ocispec.Descriptor) (fsimage.Tree, error) {
	t, c, err := b.store.OpenLayer(desc)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.open = append(b.open, c)
	b.mu.Unlock()
	return t, nil
}

// precompile compiles the programs the box starts with, so that its first
// run in a new process (`wasmbox run` right after the build) loads them
// from the compilation cache instead of compiling for seconds: the
// ENTRYPOINT/CMD program (through PATH and #! in the box) and the Wasm
// modules of its base, which a shell-form CMD or a script reaches. Those
// a RUN step compiled are done already, and those the cache records cost a
// read of the module. A program that cannot be compiled is left for the
// run to report.
func (b *builder) precompile(st *stage) {
	box, ov := st.overlay()
	cfg := st.image.Config
	paths := append([]string(nil), st.programs...)
	if argv := append(append([]string(nil), cfg.Entrypoint...), cfg.Cmd...); len(argv) > 0 {
		if p, err := ov.LookPath(argv[0], cfg.Env, orRoot(cfg.WorkingDir)); err == nil {
			paths = append([]string{p}, paths...)
		}
	}
	_ = b.rt.Precompile(b.ctx, box, paths...)
}
