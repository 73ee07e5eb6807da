package convert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/wasmbox/wasmbox/runtime"
)

// stderrTail is how much of a failing RUN's stderr its error shows.
const stderrTail = 2048

// dispatchRun runs the command inside the sandbox, on the stage's file
// system with a fresh writable layer, and keeps that layer.
func (s *stage) dispatchRun(c *instructions.RunCommand, ev Event) error {
	args, stdin := s.runArgs(c)
	env := s.runEnv()
	createdBy := "RUN " + strings.Join(args, " ")
	mounts, err := s.prepareMounts(c)
	if err != nil {
		return err
	}
	defer mounts.close()
	nw, reached := s.b.runNetwork(c)
	// A step with the network and one without are two steps, as in
	// BuildKit (whose ExecOp carries its network mode): a cached result
	// made with the network never stands for RUN --network=none.
	netKey := "network=none"
	if nw != nil {
		netKey = "network"
	}
	key := cacheKey(s.key, "RUN", joinLines(args), stdin, joinLines(env), s.image.Config.WorkingDir, s.image.Config.User, joinLines(mounts.key), netKey)
	if hit, err := s.fromCache(key, createdBy); hit || err != nil {
		return err
	}
	box, ov := s.overlay()
	removeFiles, err := placeFiles(ov, mounts.files)
	if err != nil {
		return err
	}
	if err := s.applyUser(ov); err != nil {
		return err
	}
	out := &progressWriter{b: s.b, ev: ev}
	tail := &tailWriter{max: stderrTail}
	ctx := s.b.ctx
	if s.b.opts.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.b.opts.timeout)
		defer cancel()
	}
	err = s.b.rt.Run(ctx, box, runtime.Cmd{
		Network: nw,
		Limits:  s.b.opts.limits,
		Args:    args,
		Env:     append(env, mounts.env...),
		Dir:     orRoot(s.image.Config.WorkingDir),
		User:    s.image.Config.User,
		Stdin:   strings.NewReader(stdin),
		Stdout:  out,
		Stderr:  teeWriter{out, tail},
		Mounts:  mounts.mounts,
	})
	removeFiles()
	if hosts := reached(); len(hosts) > 0 {
		fmt.Fprintf(out, "RUN reached the network: %s\n", strings.Join(hosts, ", "))
	}
	if err != nil {
		var ee *runtime.ExitError
		if !errors.As(err, &ee) {
			return fmt.Errorf("RUN %s: %w", strings.Join(c.CmdLine, " "), err)
		}
		msg := fmt.Sprintf("RUN %s: exit code %d", strings.Join(c.CmdLine, " "), ee.ExitCode())
		switch {
		case ee.Cause == runtime.CauseTimeLimit && s.b.opts.timeout > 0:
			msg += fmt.Sprintf(": time limit of %s reached (build --timeout)", s.b.opts.timeout)
		case ee.Reason != "":
			msg += ": " + ee.Reason
		}
		if ee.ExitCode() == 127 {
			if why := diagnose(tail.String()); why != "" {
				msg = fmt.Sprintf("RUN %s: %s", strings.Join(c.CmdLine, " "), why)
			}
		} else if why := diagnosePip(strings.Join(c.CmdLine, " "), tail.String()); why != "" {
			msg = fmt.Sprintf("RUN %s: %s", strings.Join(c.CmdLine, " "), why)
		} else if why := diagnoseSubprocess(strings.Join(c.CmdLine, " "), tail.String()); why != "" {
			msg = fmt.Sprintf("RUN %s: exit code %d: %s", strings.Join(c.CmdLine, " "), ee.ExitCode(), why)
		}
		if t := strings.TrimSpace(tail.String()); t != "" {
			msg += "\n" + t
		}
		return &runError{msg: msg, exit: ee}
	}
	return s.commit(ov, createdBy, key)
}

// runArgs is the argv of a RUN and what its stdin reads. Here-documents
// are the shell's business: the command line is given back to the shell
// with their bodies, except a lone here-document, which is the script
// itself (run by its #! interpreter from stdin when it has one).
func (s *stage) runArgs(c *instructions.RunCommand) ([]string, string) {
	if len(c.Files) == 0 || !c.PrependShell {
		return s.cmdline(c.ShellDependantCmdLine), ""
	}
	line := strings.Join(c.CmdLine, " ")
	if len(c.Files) == 1 && len(strings.Fields(line)) == 1 && parser.MustParseHeredoc(line) != nil {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = chompTabs(data)
		}
		if strings.HasPrefix(data, "#!") {
			first, _, _ := strings.Cut(data[2:], "\n")
			return strings.Fields(first), data
		}
		return s.cmdline(instructions.ShellDependantCmdLine{CmdLine: []string{data}, PrependShell: true}), ""
	}
	var script strings.Builder
	script.WriteString(line)
	script.WriteString("\n")
	for _, f := range c.Files {
		script.WriteString(f.Data)
		script.WriteString(f.Name)
		script.WriteString("\n")
	}
	return s.cmdline(instructions.ShellDependantCmdLine{CmdLine: []string{script.String()}, PrependShell: true}), ""
}

// chompTabs strips leading tabs from every line, as <<- does.
func chompTabs(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t")
	}
	return strings.Join(lines, "")
}

// progressWriter hands output to the progress callback.
type progressWriter struct {
	mu sync.Mutex
	b  *builder
	ev Event
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := w.ev
	ev.Output = append([]byte(nil), p...)
	w.b.emit(ev)
	return len(p), nil
}

// tailWriter keeps the last max bytes written.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append([]byte(nil), w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

type teeWriter [2]interface{ Write([]byte) (int, error) }

func (t teeWriter) Write(p []byte) (int, error) {
	t[0].Write(p)
	return t[1].Write(p)
}

// runNetwork is the network of RUN c, and a function that lists, once it
// ran, every host it connected to ("name (address)"), in order.
func (b *builder) runNetwork(c *instructions.RunCommand) (*runtime.Network, func() []string) {
	none := func() []string { return nil }
	if instructions.GetNetwork(c) == instructions.NetworkNone {
		return nil, none
	}
	nw := &runtime.Network{All: true}
	if b.opts.networkSet {
		if b.opts.network == nil {
			return nil, none
		}
		copied := *b.opts.network
		nw = &copied
	}
	var (
		mu    sync.Mutex
		hosts []string
		seen  = map[string]bool{}
	)
	prev := nw.Observe
	nw.Observe = func(ev runtime.NetEvent) {
		if prev != nil {
			prev(ev)
		}
		if ev.Op != "connect" || !ev.Allowed {
			return
		}
		h := ev.Addr
		if ev.Name != "" {
			h = ev.Name + " (" + ev.Addr + ")"
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	return nw, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(hosts)
	}
}
