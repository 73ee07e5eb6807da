package serve

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"sync"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// The exec protocol: how `wasmbox run` hands a run to the server of its
// home, so that it starts warm, with stdin, stdout, stderr, the exit status
// and signals as in-process. It is served on the Unix socket only (its
// mode, 0600, admits the home's user alone): an exec is a run that user
// could start in-process, mounts of host directories included, never more.
//
// The client sends POST /v1/exec with "Upgrade: wasmbox-exec"; the server
// answers 101 and both sides then exchange frames: a type byte, a 4-byte
// big-endian length and the payload.
//
//	client: 'h' ExecRequest (JSON, first), 'i' stdin bytes, 'e' end of stdin
//	server: 'o' stdout bytes, 'r' stderr bytes, 'x' ExecExit (JSON, last)
//
// The client closing the connection ends the run: that is how a signal
// the client gets (SIGINT, SIGTERM) ends it, at once, and the client exits
// with the signal's status as in-process.

const (
	frameHeader = 'h'
	frameStdin  = 'i'
	frameEOF    = 'e'
	frameStdout = 'o'
	frameStderr = 'r'
	frameExit   = 'x'

	execUpgrade = "wasmbox-exec"
	// maxFrame bounds a frame's payload: stdin and output come in pieces
	// of at most 32 KiB; the request is bounded by the server's body limit.
	maxFrame = 1 << 20
)

// ExecRequest is a run as `wasmbox run` resolved it from its flags.
type ExecRequest struct {
	// Box is the reference the user gave (the server's store is the
	// client's: the same home).
	Box string `json:"box"`
	// Args follow IMAGE on the command line; Entrypoint, when set,
	// replaces the image's ENTRYPOINT (and drops its CMD).
	Args       []string `json:"args,omitempty"`
	Entrypoint *string  `json:"entrypoint,omitempty"`
	// Env is set over the image's environment (-e and --env-file,
	// resolved by the client).
	Env      []string       `json:"env,omitempty"`
	Workdir  string         `json:"workdir,omitempty"`
	User     string         `json:"user,omitempty"`
	Hostname string         `json:"hostname,omitempty"`
	Volumes  []VolumeSpec   `json:"volumes,omitempty"`
	Tmpfs    []TmpfsSpec    `json:"tmpfs,omitempty"`
	ReadOnly bool           `json:"read_only,omitempty"`
	Limits   runtime.Limits `json:"limits"`
	// Stdin: the client streams its standard input (run -i).
	Stdin bool `json:"stdin,omitempty"`
	// Network is what the run may reach (--network, -p ...); nil: none.
	Network *NetworkSpec `json:"network,omitempty"`
}

// VolumeSpec is a host directory to mount (-v), Host absolute.
type VolumeSpec struct {
	Flag     string `json:"flag"` // as the user wrote it, for messages
	Host     string `json:"host"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// TmpfsSpec is an in-memory directory to mount (--tmpfs).
type TmpfsSpec struct {
	Target   string `json:"target"`
	Size     int64  `json:"size,omitempty"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// ExecExit is how an exec ended.
type ExecExit struct {
	// Code and Cause are those of *runtime.ExitError (0: exit 0).
	Code   int           `json:"code"`
	Cause  runtime.Cause `json:"cause"`
	Reason string        `json:"reason,omitempty"`
	// Error is set when the server could not run it (Code is then 125);
	// UnknownBox, when its store has no such box: the client goes on
	// in-process, where it may pull it.
	Error      string `json:"error,omitempty"`
	UnknownBox bool   `json:"unknown_box,omitempty"`
}

// Argv is the command of a run of box: the image's ENTRYPOINT and CMD
// combined with args as docker run does, or entrypoint (when not nil)
// with args.
func Argv(box *runtime.Box, args []string, entrypoint *string) ([]string, error) {
	argv := box.Command(args...).Args
	if entrypoint != nil {
		argv = nil
		if *entrypoint != "" {
			argv = []string{*entrypoint}
		}
		argv = append(argv, args...)
	}
	if len(argv) == 0 {
		return nil, errors.New("no command: the image has no ENTRYPOINT or CMD and none was given")
	}
	return argv, nil
}

// OpenMounts opens mounts: host directories through os.Root, in-memory
// directories. Call closeAll when the runs are over.
func OpenMounts(vols []VolumeSpec, tmps []TmpfsSpec) (mounts []runtime.Mount, closeAll func(), err error) {
	var dirs []*runtime.HostDir
	closeAll = func() {
		for _, d := range dirs {
			d.Close()
		}
	}
	for _, v := range vols {
		st, err := os.Stat(v.Host)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("-v %s: %v", v.Flag, err)
		}
		if !st.IsDir() {
			closeAll()
			return nil, nil, fmt.Errorf("-v %s: %s is not a directory (a box mounts directories; mount the one holding the file)", v.Flag, v.Host)
		}
		d, err := runtime.OpenHostDir(v.Host)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("-v %s: %v", v.Flag, err)
		}
		dirs = append(dirs, d)
		mounts = append(mounts, runtime.Mount{Target: v.Target, Volume: d, ReadOnly: v.ReadOnly})
	}
	for _, t := range tmps {
		mounts = append(mounts, runtime.Mount{Target: path.Clean(t.Target), Volume: runtime.NewTmpfs(t.Size), ReadOnly: t.ReadOnly})
	}
	return mounts, closeAll, nil
}

// Cmd is the runtime.Cmd of req in box, its mounts opened (closeAll
// closes them); the IO is the caller's to set.
func (req *ExecRequest) Cmd(box *runtime.Box) (cmd runtime.Cmd, closeAll func(), err error) {
	argv, err := Argv(box, req.Args, req.Entrypoint)
	if err != nil {
		return cmd, nil, err
	}
	nw, closeLog, err := req.Network.Policy()
	if err != nil {
		return cmd, nil, err
	}
	mounts, closeMounts, err := OpenMounts(req.Volumes, req.Tmpfs)
	if err != nil {
		closeLog()
		return cmd, nil, err
	}
	closeAll = func() {
		closeMounts()
		closeLog()
	}
	// The image's env, workdir and user are RunBox's to apply.
	return runtime.Cmd{
		Network:  nw,
		Args:     argv,
		Env:      req.Env,
		Dir:      req.Workdir,
		User:     req.User,
		Hostname: req.Hostname,
		Mounts:   mounts,
		ReadOnly: req.ReadOnly,
		Limits:   req.Limits,
	}, closeAll, nil
}

// frameWriter writes frames; safe for concurrent use.
type frameWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (fw *frameWriter) frame(typ byte, p []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	fw.w.Write(hdr[:])
	fw.w.Write(p)
	return fw.w.Flush()
}

// stream is an io.Writer of frames of one type, in pieces of at most 32 KiB.
type stream struct {
	fw  *frameWriter
	typ byte
}

func (s stream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 32<<10)
		if err := s.fw.frame(s.typ, p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// readFrame reads one frame of at most limit bytes.
func readFrame(r *bufio.Reader, limit int) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > uint32(limit) {
		return 0, nil, fmt.Errorf("exec: a frame of %d bytes, over the limit of %d", n, limit)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// handleExec is POST /v1/exec: a run of `wasmbox run`, on the Unix socket.
func (s *Server) handleExec(w http.ResponseWriter, r *http.Request) {
	if _, unix := r.Context().Value(http.LocalAddrContextKey).(*net.UnixAddr); !unix {
		writeError(w, http.StatusForbidden, "forbidden", "exec is served on the Unix socket only: it runs what the home's user could run in-process")
		return
	}
	if r.Header.Get("Upgrade") != execUpgrade {
		writeError(w, http.StatusBadRequest, "bad_request", "exec needs Upgrade: "+execUpgrade)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "the connection cannot be taken over")
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Time{})
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + execUpgrade + "\r\nConnection: Upgrade\r\n\r\n")
	if brw.Flush() != nil {
		return
	}
	fw := &frameWriter{w: brw.Writer}
	exit := func(e ExecExit) {
		b, _ := json.Marshal(e)
		fw.frame(frameExit, b)
	}
	// The request comes at once, or the connection goes.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, p, err := readFrame(brw.Reader, int(s.opts.maxBody))
	conn.SetReadDeadline(time.Time{})
	var req ExecRequest
	if err == nil && typ != frameHeader {
		err = fmt.Errorf("the first frame is %q, want the request", typ)
	}
	if err == nil {
		err = json.Unmarshal(p, &req)
	}
	if err != nil {
		exit(ExecExit{Code: 125, Error: "exec: " + err.Error()})
		return
	}
	// The run lasts while the client does: its leaving (a closed
	// connection) or a signal it forwards ends it.
	ctx, cancel := context.WithCancelCause(s.base)
	defer cancel(nil)
	box, aerr := s.openBox(ctx, req.Box)
	if aerr != nil {
		exit(ExecExit{Code: 125, Error: aerr.Message, UnknownBox: aerr.Code == "unknown_box"})
		return
	}
	cmd, closeMounts, err := req.Cmd(box)
	if err != nil {
		exit(ExecExit{Code: 125, Error: err.Error()})
		return
	}
	defer closeMounts()
	var stdinW *io.PipeWriter
	if req.Stdin {
		var stdinR *io.PipeReader
		stdinR, stdinW = io.Pipe()
		cmd.Stdin = stdinR
	}
	go func() {
		for {
			typ, p, err := readFrame(brw.Reader, maxFrame)
			if err != nil {
				cancel(errors.New("the client went away"))
				if stdinW != nil {
					stdinW.CloseWithError(io.ErrUnexpectedEOF)
				}
				return
			}
			switch {
			case typ == frameStdin && stdinW != nil:
				stdinW.Write(p)
			case typ == frameEOF && stdinW != nil:
				stdinW.Close()
			}
		}
	}()
	cmd.Stdout, cmd.Stderr = stream{fw, frameStdout}, stream{fw, frameStderr}
	if _, aerr := s.admit(ctx); aerr != nil {
		exit(ExecExit{Code: 125, Error: aerr.Message})
		return
	}
	defer s.lim.release()
	start := time.Now()
	err = s.rt.RunBox(ctx, box, cmd)
	if s.opts.onRunEnd != nil {
		s.opts.onRunEnd(err)
	}
	var ee *runtime.ExitError
	switch {
	case err == nil:
		s.met.observe(StatusOK, time.Since(start))
		exit(ExecExit{})
	case errors.As(err, &ee):
		s.met.observe(statusOf(ee.Cause), time.Since(start))
		exit(ExecExit{Code: ee.Code, Cause: ee.Cause, Reason: ee.Reason})
	default:
		s.met.observe("failed", time.Since(start))
		exit(ExecExit{Code: 125, Error: err.Error()})
	}
}

// ErrNoServer is Exec's error when no server answers on the socket: the
// caller runs in-process.
var ErrNoServer = errors.New("no server")

// Exec runs req on the server listening on the Unix socket sock, with
// stdin (when req.Stdin), stdout and stderr, until it ends or ctx is done
// (which ends the run). It returns the exit as the server
// reports it, or ErrNoServer (wrapped) when no server is there or the
// server has no such box, so the caller may run in-process instead.
func Exec(ctx context.Context, sock string, req *ExecRequest, stdin io.Reader, stdout, stderr io.Writer) (ExecExit, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return ExecExit{}, fmt.Errorf("%w: %v", ErrNoServer, err)
	}
	defer conn.Close()
	brw := bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn))
	brw.WriteString("POST /v1/exec HTTP/1.1\r\nHost: wasmbox\r\nConnection: Upgrade\r\nUpgrade: " + execUpgrade + "\r\nContent-Length: 0\r\n\r\n")
	if err := brw.Flush(); err != nil {
		return ExecExit{}, fmt.Errorf("%w: %v", ErrNoServer, err)
	}
	resp, err := http.ReadResponse(brw.Reader, nil)
	if err != nil {
		return ExecExit{}, fmt.Errorf("%w: %v", ErrNoServer, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		return ExecExit{}, fmt.Errorf("%w: the server answered %s", ErrNoServer, resp.Status)
	}
	fw := &frameWriter{w: brw.Writer}
	b, err := json.Marshal(req)
	if err != nil {
		return ExecExit{}, err
	}
	if err := fw.frame(frameHeader, b); err != nil {
		return ExecExit{}, fmt.Errorf("%w: %v", ErrNoServer, err)
	}
	if req.Stdin && stdin != nil {
		go func() {
			io.Copy(stream{fw, frameStdin}, stdin)
			fw.frame(frameEOF, nil)
		}()
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	for {
		typ, p, err := readFrame(brw.Reader, maxFrame)
		if err != nil {
			return ExecExit{}, fmt.Errorf("the server's connection: %w", err)
		}
		switch typ {
		case frameStdout:
			stdout.Write(p)
		case frameStderr:
			stderr.Write(p)
		case frameExit:
			var e ExecExit
			if err := json.Unmarshal(p, &e); err != nil {
				return ExecExit{}, fmt.Errorf("the server's answer: %w", err)
			}
			if e.UnknownBox {
				return e, fmt.Errorf("%w: %s", ErrNoServer, e.Error)
			}
			return e, nil
		}
	}
}
