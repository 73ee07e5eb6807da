package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

// buildFlags are build's flags.
type buildFlags struct {
	file, target, progress string
	tags, buildArgs        []string
	secrets                []string
	noCache, downloads     bool
	buildContexts          []string
	insecure               []string
	keepNative, quiet      bool
	closeLog               func()   // of --network-log
	limits                 runFlags // --memory, --pids, --timeout, --network... of each RUN
}

func newBuildCmd() *cobra.Command {
	var fl buildFlags
	cmd := &cobra.Command{
		Use:   "build [-f Dockerfile] [-t NAME[:TAG]]... [-q] [--build-arg K=V]... [--secret id=ID[,src=FILE|,env=VAR]]... [--build-context NAME=SOURCE]... [--insecure-registry HOST]... [--keep-native] [--target STAGE] [--no-cache] [--allow-downloads] [--progress auto|plain|quiet] [--memory N] [--pids N] [--timeout D] [--network none|all|allow=RULE,...|deny=RULE,...]... [--add-host NAME:IP]... [--dns IP] [--network-log FILE] CONTEXT",
		Short: "Build a box from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl.limits.pidsSet = cmd.Flags().Changed("pids")
			return fl.build(cmd, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&fl.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile)")
	f.StringArrayVarP(&fl.tags, "tag", "t", nil, "name the box NAME[:TAG]")
	f.StringVar(&fl.target, "target", "", "build this stage (default the last)")
	f.BoolVar(&fl.noCache, "no-cache", false, "run every step, ignoring the build cache")
	f.BoolVar(&fl.downloads, "allow-downloads", false, "let ADD download http(s) URLs (wasmbox downloads them)")
	f.StringArrayVar(&fl.buildArgs, "build-arg", nil, "set build argument K=V (K alone: the host's value of K)")
	f.StringArrayVar(&fl.secrets, "secret", nil, "give the build a secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR (id=ID alone: the variable ID)")
	f.StringArrayVar(&fl.buildContexts, "build-context", nil, "an image for FROM NAME / COPY --from=NAME: NAME=oci-layout://DIR[:TAG], NAME=docker-archive://FILE or NAME=docker-image://REF")
	f.StringArrayVar(&fl.insecure, "insecure-registry", nil, "reach registry HOST[:PORT] over plain HTTP (loopback registries always may)")
	f.BoolVar(&fl.keepNative, "keep-native", false, "keep the native programs and libraries of imported images as inert files (default: pruned)")
	def := runtime.DefaultLimits
	f.StringVarP(&fl.limits.memory, "memory", "m", "", fmt.Sprintf("memory limit of each RUN step, as run's, e.g. 256m; default %s, 0 for none", units.Size(def.Memory)))
	f.IntVar(&fl.limits.pids, "pids", 0, fmt.Sprintf("the most processes a RUN step may have at once; default %d, 0 or -1 for none", def.Processes))
	f.DurationVar(&fl.limits.timeout, "timeout", 0, "end a RUN step (failing the build) after this wall time, e.g. 10m; default none")
	addNetworkFlags(f, &fl.limits.network, &fl.limits.addHosts, &fl.limits.dns, &fl.limits.networkLog, "all: public addresses and names, as Docker's RUN; RUN --network=none turns it off for a step")
	f.StringVar(&fl.progress, "progress", "auto", "progress output: auto, plain or quiet")
	f.BoolVarP(&fl.quiet, "quiet", "q", false, "print only the box's digest (on success), as docker build -q")
	return cmd
}

// build builds the Dockerfile of contextDir as the flags say, and reports
// the box (or the failure) as docker build does.
func (fl *buildFlags) build(cmd *cobra.Command, contextDir string) error {
	if fl.quiet {
		fl.progress = "quiet"
	}
	out := cmd.ErrOrStderr()
	opts, err := fl.options(out)
	if err != nil {
		return err
	}
	if fl.closeLog != nil {
		defer fl.closeLog()
	}
	ctx := cmd.Context()
	store, err := openStore()
	if err != nil {
		return err
	}
	rt, err := newRuntime(ctx)
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	start := time.Now()
	res, err := convert.Build(ctx, store, rt, contextDir, opts...)
	if err != nil {
		// A failed build's warnings may say why it failed.
		printWarnings(out, convert.Warnings(err))
		return err
	}
	if !fl.quiet {
		printWarnings(out, res.Warnings)
	}
	if err := takeSnapshots(ctx, res.Descriptor.Digest.String()); err != nil && !fl.quiet {
		fmt.Fprintf(out, "warning: runs of this box start afresh, without a snapshot: %v\n", err)
	}
	if fl.progress == "quiet" {
		fmt.Fprintln(cmd.OutOrStdout(), res.Descriptor.Digest)
		return nil
	}
	fmt.Fprintf(out, "built %s in %.1fs\n", res.Descriptor.Digest, time.Since(start).Seconds())
	for _, t := range fl.tags {
		fmt.Fprintf(out, "tagged %s\n", t)
	}
	return nil
}

// options are the convert options the flags ask for, with progress
// shown on out.
func (fl *buildFlags) options(out io.Writer) ([]convert.Option, error) {
	switch fl.progress {
	case "auto", "plain", "quiet":
	default:
		return nil, fmt.Errorf("--progress %q: want auto, plain or quiet", fl.progress)
	}
	lim, err := fl.limits.limits()
	if err != nil {
		return nil, err
	}
	opts := []convert.Option{convert.WithTags(fl.tags...), convert.WithTarget(fl.target), convert.WithBuildArgs(buildArgMap(fl.buildArgs)),
		convert.WithLimits(lim), convert.WithRunTimeout(fl.limits.timeout)}
	if spec, err := networkSpec(fl.limits.network, nil, fl.limits.addHosts, fl.limits.dns, fl.limits.networkLog); err != nil {
		return nil, err
	} else if spec != nil {
		if len(spec.Network) == 0 {
			// --add-host, --dns or --network-log alone: the default grant.
			spec.Network = []string{"all"}
		}
		nw, done, err := spec.Policy()
		if err != nil {
			return nil, err
		}
		fl.closeLog = done
		opts = append(opts, convert.WithNetwork(nw))
	}
	for _, s := range fl.secrets {
		id, value, err := readSecret(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, convert.WithSecret(id, value))
	}
	for _, c := range fl.buildContexts {
		bc, err := oci.ParseBuildContext(c)
		if err != nil {
			return nil, err
		}
		opts = append(opts, convert.WithBuildContext(bc))
	}
	opts = append(opts, convert.WithRegistry(oci.WithInsecureRegistries(fl.insecure...)))
	if fl.keepNative {
		opts = append(opts, convert.WithKeepNative())
	}
	if fl.file != "" {
		opts = append(opts, convert.WithDockerfile(fl.file))
	}
	if fl.noCache {
		opts = append(opts, convert.WithNoCache())
	}
	if fl.downloads {
		opts = append(opts, convert.WithDownloads(nil))
	}
	switch {
	case fl.progress == "auto" && isTerminal(out):
		opts = append(opts, convert.WithProgress(ttyProgress(out)))
	case fl.progress != "quiet":
		opts = append(opts, convert.WithProgress(plainProgress(out)))
	}
	return opts, nil
}

// buildArgMap reads --build-arg flags: K=V, or K alone for the host's K
// (skipped when the host has none), as docker build.
func buildArgMap(flags []string) map[string]string {
	m := map[string]string{}
	for _, a := range flags {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			hv, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = hv
		}
		m[k] = v
	}
	return m
}

func printWarnings(w io.Writer, warnings []string) {
	for _, m := range warnings {
		fmt.Fprintln(w, "warning:", m)
	}
}

// readSecret reads a --secret flag as docker build does:
// id=ID[,type=file|env][,src|source=FILE][,env=VAR]; without a source, the
// host variable ID, else the file ID.
func readSecret(flag string) (string, []byte, error) {
	var id, typ, src, env string
	for _, field := range strings.Split(flag, ",") {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return "", nil, fmt.Errorf("--secret %q: %q is not KEY=VALUE", flag, field)
		}
		switch k {
		case "id":
			id = v
		case "type":
			typ = v
		case "src", "source":
			src = v
		case "env":
			env = v
		default:
			return "", nil, fmt.Errorf("--secret %q: unknown key %q (want id, type, src or env)", flag, k)
		}
	}
	if id == "" {
		return "", nil, fmt.Errorf("--secret %q: id= is required", flag)
	}
	switch {
	case typ == "env" || env != "" || (typ == "" && src == ""):
		name := env
		if name == "" {
			name = src
		}
		if name == "" {
			name = id
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			if typ == "" && env == "" && src == "" {
				if b, err := os.ReadFile(id); err == nil {
					return id, b, nil
				}
			}
			return "", nil, fmt.Errorf("--secret %q: the variable %s is not set", flag, name)
		}
		return id, []byte(v), nil
	case typ == "file" || typ == "":
		b, err := os.ReadFile(src)
		if err != nil {
			return "", nil, fmt.Errorf("--secret %q: %w", flag, err)
		}
		return id, b, nil
	}
	return "", nil, fmt.Errorf("--secret %q: type %q: want file or env", flag, typ)
}

// plainProgress prints buildkit-style plain progress lines.
func plainProgress(w io.Writer) func(convert.Event) {
	partial := map[int][]byte{}
	return func(e convert.Event) {
		switch {
		case e.Output != nil:
			buf := append(partial[e.Step], e.Output...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				fmt.Fprintf(w, "#%d %s\n", e.Step, buf[:i])
				buf = buf[i+1:]
			}
			partial[e.Step] = buf
		case e.Done:
			if rest := partial[e.Step]; len(rest) > 0 {
				fmt.Fprintf(w, "#%d %s\n", e.Step, rest)
				delete(partial, e.Step)
			}
			if e.Cached {
				fmt.Fprintf(w, "#%d CACHED\n", e.Step)
				return
			}
			fmt.Fprintf(w, "#%d DONE %.1fs\n", e.Step, e.Duration.Seconds())
		default:
			fmt.Fprintf(w, "#%d [%d/%d] %s\n", e.Step, e.Step, e.Total, oneLine(e.Instruction))
		}
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\\\n", " ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	return s
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ttyProgress is the terminal display: one line per step, finished in
// place with its time (or CACHED), and the output of a step indented
// under it.
func ttyProgress(w io.Writer) func(convert.Event) {
	const dim, reset, blue = "\x1b[2m", "\x1b[0m", "\x1b[34m"
	open := 0 // the step whose line is still open (no newline yet)
	partial := map[int][]byte{}
	return func(e convert.Event) {
		instr := oneLine(e.Instruction)
		if len(instr) > 70 {
			// One terminal line, so that \r can finish it in place.
			instr = instr[:67] + "..."
		}
		head := fmt.Sprintf("=> [%d/%d] %s", e.Step, e.Total, instr)
		switch {
		case e.Output != nil:
			if open == e.Step {
				fmt.Fprintln(w)
				open = 0
			}
			buf := append(partial[e.Step], e.Output...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				fmt.Fprintf(w, "%s   | %s%s\n", dim, buf[:i], reset)
				buf = buf[i+1:]
			}
			partial[e.Step] = buf
		case e.Done:
			if rest := partial[e.Step]; len(rest) > 0 {
				fmt.Fprintf(w, "%s   | %s%s\n", dim, rest, reset)
				delete(partial, e.Step)
			}
			status := fmt.Sprintf("%.1fs", e.Duration.Seconds())
			if e.Cached {
				status = "CACHED"
			}
			if open == e.Step {
				fmt.Fprintf(w, "\r\x1b[K%s%s%s  %s\n", blue, head, reset, status)
			} else {
				fmt.Fprintf(w, "%s%s%s  %s\n", blue, head, reset, status)
			}
			open = 0
		default:
			fmt.Fprint(w, head)
			open = e.Step
		}
	}
}
