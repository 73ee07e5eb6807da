package runtime

import (
	"context"
	"encoding/json"
	"io"
	"path"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/fsimage"
)

// The host side of the process ABI (shims/ABI.md): module wasmbox_proc.

const procModuleName = "wasmbox_proc"

// WASI errno values the ABI returns.
const (
	errnoSuccess = 0
	errnoACCES   = 2
	errnoAGAIN   = 6
	errnoBADF    = 8
	errnoFAULT   = 21
	errnoINVAL   = 28
	errnoNOENT   = 44
	errnoNOEXEC  = 45
	errnoPERM    = 63
	errnoPIPE    = 64
)

// wasiErrno converts an error of the overlay (wazero's own numbering) to
// the WASI errno the ABI promises.
func wasiErrno(e experimentalsys.Errno) uint32 {
	switch e {
	case 0:
		return errnoSuccess
	case experimentalsys.EACCES:
		return errnoACCES
	case experimentalsys.EAGAIN:
		return errnoAGAIN
	case experimentalsys.EBADF:
		return errnoBADF
	case experimentalsys.EEXIST:
		return 20
	case experimentalsys.EFAULT:
		return errnoFAULT
	case experimentalsys.EINTR:
		return 27
	case experimentalsys.EINVAL:
		return errnoINVAL
	case experimentalsys.EISDIR:
		return 31
	case experimentalsys.ELOOP:
		return 32
	case experimentalsys.ENAMETOOLONG:
		return 37
	case experimentalsys.ENOENT:
		return errnoNOENT
	case experimentalsys.ENOSYS:
		return 52
	case experimentalsys.ENOTDIR:
		return 54
	case experimentalsys.ERANGE:
		return 68
	case experimentalsys.ENOTEMPTY:
		return 55
	case experimentalsys.ENOTSUP:
		return 58
	case experimentalsys.EPERM:
		return 63
	case experimentalsys.EROFS:
		return 69
	}
	return 29 // EIO
}

// maxSpawnRequest bounds the JSON of one spawn request (argv + env).
const maxSpawnRequest = 4 << 20

type spawnRequest struct {
	Path  string   `json:"path"`
	Argv  []string `json:"argv"`
	Env   []string `json:"env"`
	Dir   string   `json:"dir"`
	Stdio [3]int   `json:"stdio"`
}

const (
	stdioPipe = -1
	stdioNull = -2
)

// child is a process spawned by a guest, seen from its parent.
type child struct {
	stdin          *pipe // nil unless a pipe
	stdout, stderr *pipe
	done           chan struct{}
	status         int
	proc           *process
}

// kill hangs up on the child and ends it (and its own children) at its
// next system call.
func (c *child) kill() {
	c.hangUp()
	if c.proc != nil {
		c.proc.kill()
	}
}

func instantiateProcModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(procModuleName)
	fn := func(name string, f any) {
		b.NewFunctionBuilder().WithFunc(f).Export(name)
	}
	fn("spawn", func(ctx context.Context, m api.Module, reqPtr, reqLen, pidOut uint32) uint32 {
		checkAlive(ctx, m)
		p := procFrom(ctx)
		if p == nil {
			return errnoBADF
		}
		if reqLen > maxSpawnRequest {
			return errnoINVAL
		}
		raw, ok := m.Memory().Read(reqPtr, reqLen)
		if !ok {
			return errnoFAULT
		}
		var req spawnRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			p.setLastErr("spawn: malformed request: " + err.Error())
			return errnoINVAL
		}
		pid, errno := p.spawn(ctx, &req)
		checkAlive(ctx, m) // a spawn past the process limit ends the run
		if errno != errnoSuccess {
			return errno
		}
		if !m.Memory().WriteUint32Le(pidOut, pid) {
			return errnoFAULT
		}
		return errnoSuccess
	})
	fn("last_error", func(ctx context.Context, m api.Module, bufPtr, bufLen, lenOut uint32) uint32 {
		checkAlive(ctx, m)
		p := procFrom(ctx)
		if p == nil {
			return errnoBADF
		}
		p.mu.Lock()
		msg := p.lastErr
		p.mu.Unlock()
		if len(msg) > int(bufLen) {
			msg = msg[:bufLen]
		}
		if !m.Memory().WriteString(bufPtr, msg) || !m.Memory().WriteUint32Le(lenOut, uint32(len(msg))) {
			return errnoFAULT
		}
		return errnoSuccess
	})
	fn("write", func(ctx context.Context, m api.Module, pid, bufPtr, bufLen, nOut uint32) uint32 {
		checkAlive(ctx, m)
		c := procFrom(ctx).child(pid)
		if c == nil || c.stdin == nil {
			return errnoBADF
		}
		buf, ok := m.Memory().Read(bufPtr, bufLen)
		if !ok {
			return errnoFAULT
		}
		n, again, err := c.stdin.tryWrite(buf)
		switch {
		case err != nil:
			return errnoPIPE
		case again:
			return errnoAGAIN
		}
		if !m.Memory().WriteUint32Le(nOut, uint32(n)) {
			return errnoFAULT
		}
		return errnoSuccess
	})
	fn("read", func(ctx context.Context, m api.Module, pid, stream, bufPtr, bufLen, nOut uint32) uint32 {
		checkAlive(ctx, m)
		c := procFrom(ctx).child(pid)
		if c == nil {
			return errnoBADF
		}
		var pp *pipe
		switch stream {
		case 1:
			pp = c.stdout
		case 2:
			pp = c.stderr
		}
		if pp == nil {
			return errnoBADF
		}
		buf, ok := m.Memory().Read(bufPtr, bufLen)
		if !ok {
			return errnoFAULT
		}
		n, again := pp.tryRead(buf)
		if again {
			return errnoAGAIN
		}
		if !m.Memory().WriteUint32Le(nOut, uint32(n)) {
			return errnoFAULT
		}
		return errnoSuccess
	})
	fn("close", func(ctx context.Context, pid, stream uint32) uint32 {
		c := procFrom(ctx).child(pid)
		if c == nil {
			return errnoBADF
		}
		switch {
		case stream == 0 && c.stdin != nil:
			c.stdin.closeWrite()
		case stream == 1 && c.stdout != nil:
			c.stdout.closeRead()
		case stream == 2 && c.stderr != nil:
			c.stderr.closeRead()
		default:
			return errnoBADF
		}
		return errnoSuccess
	})
	fn("wait", func(ctx context.Context, m api.Module, pid, statusOut uint32) uint32 {
		checkAlive(ctx, m)
		p := procFrom(ctx)
		c := p.child(pid)
		if c == nil {
			return errnoBADF
		}
		select {
		case <-c.done:
		default:
			return errnoAGAIN
		}
		p.mu.Lock()
		delete(p.children, pid)
		p.mu.Unlock()
		if !m.Memory().WriteUint32Le(statusOut, uint32(c.status)) {
			return errnoFAULT
		}
		return errnoSuccess
	})
	fn("kill", func(ctx context.Context, pid uint32) uint32 {
		c := procFrom(ctx).child(pid)
		if c == nil {
			return errnoBADF
		}
		c.kill()
		return errnoSuccess
	})
	fn("task", func(ctx context.Context, m api.Module, delta int32) uint32 {
		checkAlive(ctx, m)
		p := procFrom(ctx)
		if p == nil {
			return errnoBADF
		}
		switch delta {
		case 1:
			if !p.state.addProcess() {
				checkAlive(ctx, m) // the limit ended the run: so ends p
			}
			p.tasks.Add(1)
		case -1:
			if p.tasks.Add(-1) < 0 {
				p.tasks.Add(1)
				return errnoINVAL
			}
			p.state.procs.Add(-1)
		default:
			return errnoINVAL
		}
		return errnoSuccess
	})
	fn("chmod", func(ctx context.Context, m api.Module, pathPtr, pathLen, mode uint32) uint32 {
		checkAlive(ctx, m)
		p, rel, errno := boxPath(ctx, m, pathPtr, pathLen)
		if errno != errnoSuccess {
			return errno
		}
		return wasiErrno(nsFS{ns: p.ns}.Chmod(rel, fsimage.GoMode(mode&0o7777)))
	})
	fn("lchown", func(ctx context.Context, m api.Module, pathPtr, pathLen, uid, gid uint32) uint32 {
		checkAlive(ctx, m)
		p, rel, errno := boxPath(ctx, m, pathPtr, pathLen)
		if errno != errnoSuccess {
			return errno
		}
		l, e, done := p.ns.at(rel, false)
		defer done()
		if e != 0 {
			return wasiErrno(e)
		}
		if l.mount < 0 && p.ns.readOnly {
			return wasiErrno(experimentalsys.EROFS)
		}
		if ov, ok := l.fsys.(*Overlay); ok {
			return wasiErrno(ov.Lchown(l.rel, uid, gid))
		}
		// Host directories keep their owners: a box has no users.
		return errnoPERM
	})
	fn("stat", func(ctx context.Context, m api.Module, pathPtr, pathLen, follow, out uint32) uint32 {
		checkAlive(ctx, m)
		p, rel, errno := boxPath(ctx, m, pathPtr, pathLen)
		if errno != errnoSuccess {
			return errno
		}
		var st wazerosys.Stat_t
		var uid, gid uint32
		var e experimentalsys.Errno
		l, e, done := p.ns.at(rel, follow != 0)
		defer done()
		if e != 0 {
			return wasiErrno(e)
		}
		if l.mount < 0 {
			st, uid, gid, e = p.ns.root.statOwner(l.rel, follow != 0)
		} else if ov, ok := l.fsys.(*Overlay); ok {
			// A tmpfs or a bound tree.
			st, uid, gid, e = ov.statOwner(l.rel, follow != 0)
		} else if follow != 0 {
			st, e = l.fsys.Stat(l.rel)
		} else {
			st, e = l.fsys.Lstat(l.rel)
		}
		if e != 0 {
			return wasiErrno(e)
		}
		mem := m.Memory()
		if !mem.WriteUint32Le(out, fsimage.UnixMode(st.Mode)) || !mem.WriteUint32Le(out+4, uid) ||
			!mem.WriteUint32Le(out+8, gid) || !mem.WriteUint32Le(out+12, uint32(st.Nlink)) {
			return errnoFAULT
		}
		return errnoSuccess
	})
	_, err := b.Instantiate(ctx)
	return err
}

func procFrom(ctx context.Context) *process {
	p, _ := ctx.Value(procKey{}).(*process)
	return p
}

func boxPath(ctx context.Context, m api.Module, ptr, n uint32) (*process, string, uint32) {
	p := procFrom(ctx)
	if p == nil {
		return nil, "", errnoBADF
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		return nil, "", errnoFAULT
	}
	s := string(b)
	if !strings.HasPrefix(s, "/") {
		return nil, "", errnoINVAL
	}
	return p, strings.TrimPrefix(path.Clean(s), "/"), errnoSuccess
}

func (p *process) setLastErr(msg string) {
	p.mu.Lock()
	p.lastErr = msg
	p.mu.Unlock()
}

func (p *process) child(pid uint32) *child {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.children[pid]
}

// spawn starts req as a child of p.
func (p *process) spawn(ctx context.Context, req *spawnRequest) (uint32, uint32) {
	if !path.IsAbs(req.Path) || len(req.Argv) == 0 {
		p.setLastErr("spawn: the path must be absolute and argv not empty")
		return 0, errnoINVAL
	}
	dir := req.Dir
	if !path.IsAbs(dir) {
		dir = p.dir
	}
	prog, err := p.ns.load(req.Path, req.Argv, p.rt.isCompiled)
	if err == nil {
		_, err = p.rt.compile(ctx, prog)
	}
	if err != nil {
		p.setLastErr(err.Error())
		if ee, ok := err.(*ExitError); ok && ee.Cause == CauseNotFound {
			return 0, errnoNOENT
		}
		return 0, errnoNOEXEC
	}
	c := &child{done: make(chan struct{})}
	if p.killed.Load() || p.state.ended.Load() {
		return 0, errnoAGAIN
	}
	if !p.state.addProcess() {
		return 0, errnoAGAIN
	}
	cp := &process{rt: p.rt, ns: p.ns, state: p.state, env: withEnv(req.Env, "PWD", path.Clean(dir)), dir: path.Clean(dir)}
	c.proc = cp
	for i, mode := range req.Stdio {
		switch {
		case mode == stdioPipe:
			pp := newPipe()
			switch i {
			case 0:
				c.stdin, cp.stdin = pp, pp
			case 1:
				c.stdout, cp.stdout = pp, pp
			case 2:
				c.stderr, cp.stderr = pp, pp
			}
		case mode == stdioNull:
			switch i {
			case 0:
				cp.stdin = eofReader{}
			case 1:
				cp.stdout = io.Discard
			case 2:
				cp.stderr = io.Discard
			}
		case i == 0 && mode == 0:
			cp.stdin = p.stdin
		case i > 0 && mode == 1:
			cp.setOut(i, p.stdout)
		case i > 0 && mode == 2:
			cp.setOut(i, p.stderr)
		default:
			p.setLastErr("spawn: bad stdio")
			p.state.procs.Add(-1)
			return 0, errnoINVAL
		}
	}
	p.mu.Lock()
	if p.children == nil {
		p.children = map[uint32]*child{}
	}
	p.nextPid++
	pid := p.nextPid
	p.children[pid] = c
	p.mu.Unlock()
	go func() {
		code, err := cp.run(ctx, prog)
		if err != nil {
			io.WriteString(orDiscard(cp.stderr), err.Error()+"\n")
			code = ExitNotExecutable
		}
		c.status = code
		if c.stdout != nil {
			c.stdout.closeWrite()
		}
		if c.stderr != nil {
			c.stderr.closeWrite()
		}
		if c.stdin != nil {
			c.stdin.closeRead()
		}
		close(c.done)
	}()
	return pid, errnoSuccess
}

func (p *process) setOut(i int, w io.Writer) {
	if i == 1 {
		p.stdout = w
	} else {
		p.stderr = w
	}
}

// hangUp closes the child's pipes: its writes fail and its reads end,
// which ends a well-behaved program.
func (c *child) hangUp() {
	if c.stdin != nil {
		c.stdin.closeWrite()
	}
	if c.stdout != nil {
		c.stdout.closeRead()
	}
	if c.stderr != nil {
		c.stderr.closeRead()
	}
}

// killChildren ends the children p did not wait for: a process's
// children do not outlive it.
func (p *process) killChildren() {
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
