package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/internal/units"
)

// Limits bound one run: the command and every process it starts share
// them (children inherit their parent's limits). For Memory, Processes
// and Files zero means the default (DefaultLimits) and Unlimited means
// none: a box run without thought cannot take the host. For Output zero
// means no limit. A run that reaches one ends with ExitKilled and a
// Reason naming it.
type Limits struct {
	// Memory bounds what the host holds for the run, in bytes: the Wasm
	// linear memory of all its processes together, the files, names and
	// links it writes in memory, and the compilation of modules it wrote
	// itself. A memory.grow past it fails (CPython raises MemoryError;
	// Go programs die) and the run ends.
	Memory int64
	// Processes bounds how many processes of the run may live at once,
	// the first included. A spawn past it ends the run.
	Processes int
	// Files bounds the files and directories the run's processes hold
	// open at once, together (each open of a host directory's file is a
	// real descriptor of the host). An open past it ends the run.
	Files int
	// Output bounds the bytes the run's processes write to Stdout and
	// Stderr together. The write that would pass it is cut there and
	// ends the run.
	Output int64
}

// Unlimited, as a limit of Limits, means no limit.
const Unlimited = -1

// DefaultLimits are what a zero Limits means: 1 GiB of memory (CPython's
// test suite and pip stay well below), 256 processes, 1024 open files
// (the usual RLIMIT_NOFILE soft limit).
var DefaultLimits = Limits{Memory: 1 << 30, Processes: 256, Files: 1024}

// Effective returns l with its zero limits replaced by DefaultLimits and
// Unlimited ones by zero, the form the runner enforces (zero: none).
func (l Limits) Effective() Limits {
	pick := func(v, def int64) int64 {
		switch {
		case v == 0:
			return def
		case v == Unlimited:
			return 0
		}
		return v
	}
	l.Memory = pick(l.Memory, DefaultLimits.Memory)
	l.Processes = int(pick(int64(l.Processes), int64(DefaultLimits.Processes)))
	l.Files = int(pick(int64(l.Files), int64(DefaultLimits.Files)))
	return l
}

// check reports a limit that means nothing.
func (l Limits) check() error {
	for _, v := range []int64{l.Memory, int64(l.Processes), int64(l.Files)} {
		if v < Unlimited {
			return fmt.Errorf("runtime: a limit must be positive, 0 (the default) or Unlimited; got %d", v)
		}
	}
	if l.Output < 0 {
		return errors.New("runtime: the output limit must not be negative")
	}
	return nil
}

// runState is what the processes of one run share: the limits, their
// accounting, and why the run was ended.
type runState struct {
	limits Limits
	procs  atomic.Int64
	mem    atomic.Int64
	// used is the memory the run holds (Wasm memories, file data in
	// memory), without mem's compile estimates; peak is its highest.
	used, peak atomic.Int64
	output     atomic.Int64 // bytes written to stdout and stderr
	files      atomic.Int64 // files open in all its processes
	resumed    atomic.Int64 // processes started from a snapshot
	net        *netRun      // the network policy, listeners, names resolved

	mu     sync.Mutex
	cause  Cause
	reason string
	ended  atomic.Bool
	cancel context.CancelFunc
	// live counts the children still running; Run returns only when
	// none is left, so nothing of a run outlives it.
	live sync.WaitGroup
}

// end ends the run for cause, which reason explains (the first cause
// stays): every process exits at its next system call (and at once when
// the Runtime is interruptible).
func (rs *runState) end(cause Cause, reason string) {
	rs.mu.Lock()
	if rs.reason == "" {
		rs.cause, rs.reason = cause, reason
	}
	rs.mu.Unlock()
	rs.ended.Store(true)
	if rs.cancel != nil {
		rs.cancel()
	}
}

// addProcess counts one more process (or in-process task) of the run;
// past Limits.Processes it ends the run instead and reports false.
func (rs *runState) addProcess() bool {
	n := rs.procs.Add(1)
	if lim := int64(rs.limits.Processes); lim > 0 && n > lim {
		rs.procs.Add(-1)
		rs.end(CauseProcessLimit, fmt.Sprintf("process limit of %d reached", lim))
		return false
	}
	return true
}

// limitOutput makes w count against the run's output limit.
func (rs *runState) limitOutput(w io.Writer) io.Writer {
	if rs.limits.Output <= 0 || w == io.Discard {
		return w
	}
	return &outputLimiter{rs: rs, w: w}
}

// outputLimiter is one output stream of a run with an output limit.
type outputLimiter struct {
	rs *runState
	w  io.Writer
}

func (o *outputLimiter) Write(b []byte) (int, error) {
	lim := o.rs.limits.Output
	total := o.rs.output.Add(int64(len(b)))
	if total <= lim {
		return o.w.Write(b)
	}
	room := max(lim-(total-int64(len(b))), 0)
	o.rs.end(CauseOutputLimit, fmt.Sprintf("output limit of %s reached", units.In(lim, units.MiB)))
	n, err := o.w.Write(b[:room])
	if err == nil {
		err = io.ErrShortWrite
	}
	return n, err
}

// endBy ends the run because its context ended.
func (rs *runState) endBy(ctx context.Context) {
	if cerr := context.Cause(ctx); errors.Is(cerr, context.DeadlineExceeded) {
		rs.end(CauseTimeLimit, "time limit reached")
	} else {
		rs.end(CauseCancelled, "the run was cancelled: "+cerr.Error())
	}
}

// killedError is the error of a run a limit ended.
func (rs *runState) killedError() *ExitError {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return &ExitError{Code: ExitKilled, Cause: rs.cause, Reason: rs.reason}
}

// allocator backs the linear memories of a run's processes, counting
// them against Limits.Memory: in Go slices, or in what inner allocates
// (a snapshot's copy-on-write memory).
type allocator struct {
	rs    *runState
	inner experimental.MemoryAllocator
}

func (a allocator) Allocate(capBytes, maxBytes uint64) experimental.LinearMemory {
	var in experimental.LinearMemory = &sliceMemory{max: maxBytes}
	if a.inner != nil {
		in = a.inner.Allocate(capBytes, maxBytes)
	}
	return &linearMemory{rs: a.rs, in: in, max: maxBytes}
}

// linearMemory counts a memory's length against its run's limit.
type linearMemory struct {
	rs      *runState
	in      experimental.LinearMemory
	max     uint64
	counted int64 // bytes counted in rs.mem and rs.used
}

func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	grow := int64(size) - m.counted
	if grow <= 0 {
		return m.in.Reallocate(size)
	}
	if lim := m.rs.limits.Memory; lim > 0 {
		if used := m.rs.mem.Add(grow); used > lim {
			m.rs.mem.Add(-grow)
			m.rs.end(CauseMemoryLimit, fmt.Sprintf("memory limit of %s reached (the box asked for %s more)", units.In(lim, units.MiB), units.In(grow, units.MiB)))
			if m.counted == 0 && size > 0 {
				// wazero cannot take a failed first allocation: give the
				// minimum (uncounted); the process ends at its first
				// system call.
				return m.reallocate(size)
			}
			return nil
		}
	} else {
		m.rs.mem.Add(grow)
	}
	buf := m.reallocate(size)
	if buf == nil {
		m.rs.mem.Add(-grow)
		return nil
	}
	m.counted += grow
	m.rs.hold(grow)
	return buf
}

// reallocate resizes the memory itself. A first allocation whose address
// space could not be reserved (a ulimit -v, say) moves the memory to a Go
// slice: wazero cannot take a failed first allocation.
func (m *linearMemory) reallocate(size uint64) []byte {
	buf := m.in.Reallocate(size)
	if buf != nil || m.counted != 0 {
		return buf
	}
	if _, ok := m.in.(*sliceMemory); ok {
		return nil
	}
	m.in.Free()
	m.in = &sliceMemory{max: m.max}
	return m.in.Reallocate(size)
}

func (m *linearMemory) Free() {
	m.rs.mem.Add(-m.counted)
	m.rs.hold(-m.counted)
	m.counted = 0
	m.in.Free()
}

// sliceMemory is a linear memory in a Go slice.
type sliceMemory struct {
	buf []byte
	max uint64
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if uint64(cap(m.buf)) >= size {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow the capacity geometrically, as append does, within max.
	newCap := max(size, min(uint64(cap(m.buf))*2, m.max))
	nb := make([]byte, size, newCap)
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

func (m *sliceMemory) Free() { m.buf = nil }

// checkAlive ends the calling process when its run was ended or the
// process was killed: the host functions of WASI and of the process
// module call it first, so a box ends at its next system call.
func checkAlive(ctx context.Context, mod api.Module) {
	p := procFrom(ctx)
	if p == nil {
		return
	}
	if p.killed.Load() || p.state.ended.Load() {
		mod.CloseWithExitCode(ctx, ExitKilled)
		panic(wazerosys.NewExitError(ExitKilled))
	}
}

// kill ends p at its next system call, and its children with it.
func (p *process) kill() {
	if p.killed.Swap(true) {
		return
	}
	if p.cancel != nil {
		p.cancel()
	}
	p.mu.Lock()
	children := make([]*child, 0, len(p.children))
	for _, c := range p.children {
		children = append(children, c)
	}
	p.mu.Unlock()
	for _, c := range children {
		c.kill()
	}
}

// errNoSpace is what a write past the memory limit gets. wazero's errno
// set has no ENOSPC; the run ends at the process's next call anyway.
const errNoSpace = experimentalsys.EIO

// hold accounts delta bytes (negative: released) of memory the run holds,
// for Stats.PeakMemory.
func (rs *runState) hold(delta int64) {
	u := rs.used.Add(delta)
	for {
		p := rs.peak.Load()
		if u <= p || rs.peak.CompareAndSwap(p, u) {
			return
		}
	}
}
