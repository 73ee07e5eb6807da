package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	wazerosys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/shims/abi"
)

// The host side of the process ABI (shims/ABI.md): module wasmbox_proc.

const procModuleName = abi.ModuleName

// WASI errno values the ABI returns, as the host functions return them.
const (
	errnoSuccess = uint32(abi.ESUCCESS)
	errnoACCES   = uint32(abi.EACCES)
	errnoAGAIN   = uint32(abi.EAGAIN)
	errnoBADF    = uint32(abi.EBADF)
	errnoFAULT   = uint32(abi.EFAULT)
	errnoINVAL   = uint32(abi.EINVAL)
	errnoNOENT   = uint32(abi.ENOENT)
	errnoNOEXEC  = uint32(abi.ENOEXEC)
	errnoPERM    = uint32(abi.EPERM)
	errnoPIPE    = uint32(abi.EPIPE)
)

// wasiErrnos maps the overlay's errors (wazero's own numbering) to the
// WASI errno the ABI promises.
var wasiErrnos = map[experimentalsys.Errno]abi.Errno{
	0:                            abi.ESUCCESS,
	experimentalsys.EACCES:       abi.EACCES,
	experimentalsys.EAGAIN:       abi.EAGAIN,
	experimentalsys.EBADF:        abi.EBADF,
	experimentalsys.EEXIST:       abi.EEXIST,
	experimentalsys.EFAULT:       abi.EFAULT,
	experimentalsys.EINTR:        abi.EINTR,
	experimentalsys.EINVAL:       abi.EINVAL,
	experimentalsys.EISDIR:       abi.EISDIR,
	experimentalsys.ELOOP:        abi.ELOOP,
	experimentalsys.ENAMETOOLONG: abi.ENAMETOOLONG,
	experimentalsys.ENOENT:       abi.ENOENT,
	experimentalsys.ENOSYS:       abi.ENOSYS,
	experimentalsys.ENOTDIR:      abi.ENOTDIR,
	experimentalsys.ERANGE:       abi.ERANGE,
	experimentalsys.ENOTEMPTY:    abi.ENOTEMPTY,
	experimentalsys.ENOTSUP:      abi.ENOTSUP,
	experimentalsys.EPERM:        abi.EPERM,
	experimentalsys.EROFS:        abi.EROFS,
}

// wasiErrno converts an error of the overlay to the ABI's errno (EIO for
// one it has no number for).
func wasiErrno(e experimentalsys.Errno) uint32 {
	if w, ok := wasiErrnos[e]; ok {
		return uint32(w)
	}
	return uint32(abi.EIO)
}

// maxSpawnRequest bounds the JSON of one spawn request (argv + env).
const maxSpawnRequest = abi.MaxSpawnRequest

type spawnRequest = abi.SpawnRequest

const (
	stdioPipe = abi.StdioPipe
	stdioNull = abi.StdioNull
)

// child is a process spawned by a guest, seen from its parent.
type child struct {
	stdin          *abi.Pipe // nil unless a pipe
	stdout, stderr *abi.Pipe
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

// instantiateProcModule instantiates the process module: one host
// function per function of the ABI (shims/ABI.md).
func instantiateProcModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(procModuleName)
	for _, f := range []struct {
		name string
		fn   any
	}{
		{abi.FuncSpawn, abiSpawn},
		{abi.FuncLastError, abiLastError},
		{abi.FuncWrite, abiWrite},
		{abi.FuncRead, abiRead},
		{abi.FuncClose, abiClose},
		{abi.FuncWait, abiWait},
		{abi.FuncKill, abiKill},
		{abi.FuncTask, abiTask},
		{abi.FuncChmod, abiChmod},
		{abi.FuncLchown, abiLchown},
		{abi.FuncStat, abiStat},
		{abi.FuncIDs, abiIDs},
	} {
		b.NewFunctionBuilder().WithFunc(f.fn).Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// abiSpawn starts a child of the caller. (shims/ABI.md)
func abiSpawn(ctx context.Context, m api.Module, reqPtr, reqLen, pidOut uint32) uint32 {
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
}

// abiLastError copies the message of the caller's last failed spawn. (shims/ABI.md)
func abiLastError(ctx context.Context, m api.Module, bufPtr, bufLen, lenOut uint32) uint32 {
	checkAlive(ctx, m)
	p := procFrom(ctx)
	if p == nil {
		return errnoBADF
	}
	p.mu.Lock()
	msg := p.lastErr
	p.mu.Unlock()
	return writeMessage(m, msg, bufPtr, bufLen, lenOut)
}

// writeMessage copies msg, cut to bufLen bytes, to the caller's buffer,
// and its length to lenOut (the last_error functions of both ABIs).
func writeMessage(m api.Module, msg string, bufPtr, bufLen, lenOut uint32) uint32 {
	if len(msg) > int(bufLen) {
		msg = msg[:bufLen]
	}
	if !m.Memory().WriteString(bufPtr, msg) || !m.Memory().WriteUint32Le(lenOut, uint32(len(msg))) {
		return errnoFAULT
	}
	return errnoSuccess
}

// abiWrite writes to a child's stdin pipe. (shims/ABI.md)
func abiWrite(ctx context.Context, m api.Module, pid, bufPtr, bufLen, nOut uint32) uint32 {
	checkAlive(ctx, m)
	c := procFrom(ctx).child(pid)
	if c == nil || c.stdin == nil {
		return errnoBADF
	}
	buf, ok := m.Memory().Read(bufPtr, bufLen)
	if !ok {
		return errnoFAULT
	}
	n, errno := c.stdin.TryWrite(buf)
	if errno != abi.ESUCCESS {
		return uint32(errno)
	}
	if !m.Memory().WriteUint32Le(nOut, uint32(n)) {
		return errnoFAULT
	}
	return errnoSuccess
}

// abiRead reads from a child's stdout or stderr pipe. (shims/ABI.md)
func abiRead(ctx context.Context, m api.Module, pid, stream, bufPtr, bufLen, nOut uint32) uint32 {
	checkAlive(ctx, m)
	c := procFrom(ctx).child(pid)
	if c == nil {
		return errnoBADF
	}
	var pp *abi.Pipe
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
	n, errno := pp.TryRead(buf)
	if errno != abi.ESUCCESS {
		return uint32(errno)
	}
	if !m.Memory().WriteUint32Le(nOut, uint32(n)) {
		return errnoFAULT
	}
	return errnoSuccess
}

// abiClose closes the caller's end of a child's pipe. (shims/ABI.md)
func abiClose(ctx context.Context, pid, stream uint32) uint32 {
	c := procFrom(ctx).child(pid)
	if c == nil {
		return errnoBADF
	}
	switch {
	case stream == 0 && c.stdin != nil:
		c.stdin.CloseWrite()
	case stream == 1 && c.stdout != nil:
		c.stdout.CloseRead()
	case stream == 2 && c.stderr != nil:
		c.stderr.CloseRead()
	default:
		return errnoBADF
	}
	return errnoSuccess
}

// abiWait reports a child's exit status once it ended, and releases it. (shims/ABI.md)
func abiWait(ctx context.Context, m api.Module, pid, statusOut uint32) uint32 {
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
}

// abiKill ends a child and its own children. (shims/ABI.md)
func abiKill(ctx context.Context, pid uint32) uint32 {
	c := procFrom(ctx).child(pid)
	if c == nil {
		return errnoBADF
	}
	c.kill()
	return errnoSuccess
}

// abiTask counts (or uncounts) in-process work as a process of the run. (shims/ABI.md)
func abiTask(ctx context.Context, m api.Module, delta int32) uint32 {
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
}

// abiChmod sets the permission bits of a box path. (shims/ABI.md)
func abiChmod(ctx context.Context, m api.Module, pathPtr, pathLen, mode uint32) uint32 {
	checkAlive(ctx, m)
	p, rel, errno := boxPath(ctx, m, pathPtr, pathLen)
	if errno != errnoSuccess {
		return errno
	}
	return wasiErrno(nsFS{ns: p.ns}.Chmod(rel, fsimage.GoMode(mode&0o7777)))
}

// abiLchown sets the owner of a box path, not following a final symlink. (shims/ABI.md)
func abiLchown(ctx context.Context, m api.Module, pathPtr, pathLen, uid, gid uint32) uint32 {
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
	if l.mount == rootMount && p.ns.readOnly {
		return wasiErrno(experimentalsys.EROFS)
	}
	if ov, ok := l.fsys.(*overlay); ok {
		return wasiErrno(ov.Lchown(l.rel, uid, gid))
	}
	// Host directories keep their owners: a box has no users.
	return errnoPERM
}

// abiStat writes the box's metadata of a path: mode, owner, link count. (shims/ABI.md)
func abiStat(ctx context.Context, m api.Module, pathPtr, pathLen, follow, out uint32) uint32 {
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
	switch ov, isOverlay := l.fsys.(*overlay); {
	case e != 0:
	case l.mount == rootMount:
		st, uid, gid, e = p.ns.root.statOwner(l.rel, follow != 0)
	case isOverlay:
		// A tmpfs, a bound tree or a single file (/etc/hostname).
		st, uid, gid, e = ov.statOwner(l.rel, follow != 0)
	case follow != 0:
		st, e = l.fsys.Stat(l.rel)
	default:
		st, e = l.fsys.Lstat(l.rel)
	}
	if e != 0 {
		return wasiErrno(e)
	}
	rec := abi.Stat{Mode: fsimage.UnixMode(st.Mode), UID: uid, GID: gid, Nlink: uint32(st.Nlink)}.Encode()
	if !m.Memory().Write(out, rec[:]) {
		return errnoFAULT
	}
	return errnoSuccess
}

// abiIDs writes the user and group the caller runs as. (shims/ABI.md)
func abiIDs(ctx context.Context, m api.Module, out uint32) uint32 {
	checkAlive(ctx, m)
	p := procFrom(ctx)
	if p == nil {
		return errnoBADF
	}
	if !m.Memory().WriteUint32Le(out, p.uid) || !m.Memory().WriteUint32Le(out+4, p.gid) {
		return errnoFAULT
	}
	return errnoSuccess
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
	prog, err := p.ns.load(req.Path, req.Argv, p.rt.isKnown)
	if err == nil && !prog.forRunOnly() {
		// The box's own modules compile here, so that one that cannot
		// is the spawner's error; one the box wrote compiles in the
		// child, for that run only (process.compile).
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
	cp := &process{rt: p.rt, ns: p.ns, state: p.state, env: withEnv(req.Env, "PWD", path.Clean(dir)), dir: path.Clean(dir), uid: p.uid, gid: p.gid}
	c.proc = cp
	for i, mode := range req.Stdio {
		switch {
		case mode == stdioPipe:
			pp := abi.NewPipe(0)
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
	p.state.live.Add(1)
	go func() {
		defer p.state.live.Done()
		code, err := cp.run(ctx, prog)
		if err != nil {
			io.WriteString(orDiscard(cp.stderr), err.Error()+"\n")
			// A crash is 134 to the parent, as at the top level; what
			// could not start is 126.
			code = ExitNotExecutable
			if ee := (*ExitError)(nil); errors.As(err, &ee) {
				code = ee.Code
			}
		}
		c.status = code
		if c.stdout != nil {
			c.stdout.CloseWrite()
		}
		if c.stderr != nil {
			c.stderr.CloseWrite()
		}
		if c.stdin != nil {
			c.stdin.CloseRead()
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
		c.stdin.CloseWrite()
	}
	if c.stdout != nil {
		c.stdout.CloseRead()
	}
	if c.stderr != nil {
		c.stderr.CloseRead()
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
