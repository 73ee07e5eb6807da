package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// session is a box instance whose writable layer lasts across runs until
// it is deleted or idle past its TTL. Its code runs share one Python
// interpreter, so their globals last too (pysession.go); other runs are
// new processes.
type session struct {
	id     string
	ref    string
	box    *runtime.Box
	ov     *runtime.Overlay
	env    map[string]string
	ttl    time.Duration
	ctx    context.Context // ended with the session
	cancel context.CancelFunc

	// turn is held by the one run or file operation at work on the
	// session; the others wait their turn (or their client leaves).
	turn     chan struct{}
	lastUsed atomic.Int64 // unix nanoseconds
	runs     atomic.Int64
	// uploaded counts the bytes PUT into the session, which no run's
	// memory limit charges: they are bounded by the memory ceiling.
	uploaded int64
	// py is the interpreter its code runs share, under turn.
	py *pyInterp
	// network is what its runs may reach; nil: nothing.
	network *runtime.Network
}

// end ends the session and its interpreter.
func (se *session) end() {
	se.cancel()
	// Its run, if any, ends with it and gives the turn back.
	se.turn <- struct{}{}
	if se.py != nil {
		se.py.stop()
	}
	<-se.turn
}

// take waits for the session's turn; put gives it back. A session that
// ends meanwhile is an error (404), as is a client that leaves.
func (se *session) take(ctx context.Context) *RequestError {
	select {
	case se.turn <- struct{}{}:
		if se.ctx.Err() != nil {
			<-se.turn
			return sessionEnded(se.id)
		}
		se.lastUsed.Store(time.Now().UnixNano())
		return nil
	case <-ctx.Done():
		return &RequestError{Status: 499, Code: "client_gone", Message: "the client went away while waiting for the session"}
	case <-se.ctx.Done():
		return sessionEnded(se.id)
	}
}

func sessionEnded(id string) *RequestError {
	return &RequestError{Status: http.StatusNotFound, Code: "unknown_session", Message: fmt.Sprintf("session %s ended (deleted, or idle past its TTL)", id)}
}

func (se *session) put() {
	se.lastUsed.Store(time.Now().UnixNano())
	<-se.turn
}

func (se *session) describe() Session {
	return Session{ID: se.id, Box: se.ref, Digest: se.box.Digest(), TTLSeconds: int64(se.ttl / time.Second), Runs: se.runs.Load()}
}

// sessions are the open sessions, and the sweeper that ends idle ones.
type sessions struct {
	s    *Server
	mu   sync.Mutex
	m    map[string]*session
	stop chan struct{}
	done chan struct{}
}

func newSessions(s *Server) *sessions {
	ss := &sessions{s: s, m: map[string]*session{}, stop: make(chan struct{}), done: make(chan struct{})}
	every := min(max(s.opts.sessionTTL/4, 10*time.Millisecond), 30*time.Second)
	go ss.sweep(every)
	return ss
}

func (ss *sessions) sweep(every time.Duration) {
	defer close(ss.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ss.stop:
			return
		case now := <-t.C:
			ss.mu.Lock()
			var idle []*session
			for id, se := range ss.m {
				busy := len(se.turn) > 0
				if !busy && now.Sub(time.Unix(0, se.lastUsed.Load())) > se.ttl {
					delete(ss.m, id)
					idle = append(idle, se)
				}
			}
			ss.mu.Unlock()
			for _, se := range idle {
				go se.end()
			}
		}
	}
}

func (ss *sessions) get(id string) (*session, *RequestError) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se, ok := ss.m[id]
	if !ok {
		return nil, &RequestError{Status: http.StatusNotFound, Code: "unknown_session", Message: fmt.Sprintf("no session %q (deleted, or idle past its TTL)", id)}
	}
	return se, nil
}

func (ss *sessions) remove(id string) (*session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	se, ok := ss.m[id]
	delete(ss.m, id)
	return se, ok
}

func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

func (ss *sessions) closeAll() {
	select {
	case <-ss.stop:
	default:
		close(ss.stop)
		<-ss.done
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, se := range ss.m {
		se.end()
		delete(ss.m, id)
	}
}

// handleSessionOpen is POST /v1/sessions.
func (s *Server) handleSessionOpen(w http.ResponseWriter, r *http.Request) {
	var req SessionRequest
	if rerr := s.decodeBody(w, r, &req); rerr != nil {
		rerr.write(w)
		return
	}
	nw, rerr := s.networkOf(req.Network)
	if rerr != nil {
		rerr.write(w)
		return
	}
	if req.TTLSeconds < 0 {
		badRequest("ttl_seconds must not be negative").write(w)
		return
	}
	box, rerr := s.openBox(r.Context(), req.Box)
	if rerr != nil {
		rerr.write(w)
		return
	}
	ttl := s.opts.sessionTTL
	if req.TTLSeconds > 0 {
		ttl = min(ttl, time.Duration(req.TTLSeconds)*time.Second)
	}
	var idb [16]byte
	rand.Read(idb[:])
	ctx, cancel := context.WithCancel(s.base)
	se := &session{id: hex.EncodeToString(idb[:]), ref: req.Box, box: box, ov: box.Overlay(), env: req.Env, ttl: ttl, ctx: ctx, cancel: cancel, turn: make(chan struct{}, 1), network: nw}
	// What its runs write lasts: bounded in all, not only per run.
	se.ov.SetCapacity(s.uploadLimit())
	se.lastUsed.Store(time.Now().UnixNano())
	ss := s.sess
	ss.mu.Lock()
	if len(ss.m) >= s.opts.maxSessions {
		ss.mu.Unlock()
		cancel()
		(&RequestError{Status: http.StatusTooManyRequests, Code: "too_many_sessions", Message: fmt.Sprintf("%d sessions are open, the most this server keeps: delete one", s.opts.maxSessions)}).write(w)
		return
	}
	ss.m[se.id] = se
	ss.mu.Unlock()
	w.Header().Set("Location", "/v1/sessions/"+se.id)
	writeJSON(w, http.StatusCreated, se.describe())
}

// handleSessionGet is GET /v1/sessions/{id}.
func (s *Server) handleSessionGet(w http.ResponseWriter, r *http.Request) {
	se, rerr := s.sess.get(r.PathValue("id"))
	if rerr != nil {
		rerr.write(w)
		return
	}
	writeJSON(w, http.StatusOK, se.describe())
}

// handleSessionDelete is DELETE /v1/sessions/{id}: a run in progress on it
// ends.
func (s *Server) handleSessionDelete(w http.ResponseWriter, r *http.Request) {
	se, ok := s.sess.remove(r.PathValue("id"))
	if !ok {
		_, rerr := s.sess.get(r.PathValue("id"))
		rerr.write(w)
		return
	}
	se.end()
	w.WriteHeader(http.StatusNoContent)
}

// handleSessionRun is POST /v1/sessions/{id}/runs: a run on the session's
// writable layer, after the session's earlier runs.
func (s *Server) handleSessionRun(w http.ResponseWriter, r *http.Request) {
	se, rerr := s.sess.get(r.PathValue("id"))
	if rerr != nil {
		rerr.write(w)
		return
	}
	var req RunRequest
	if rerr := s.decodeBody(w, r, &req); rerr != nil {
		rerr.write(w)
		return
	}
	if req.Box != "" && req.Box != se.ref {
		badRequest("the session runs box %s; leave \"box\" out or name that one", se.ref).write(w)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(se.ctx, cancel)()
	if rerr := se.take(ctx); rerr != nil {
		rerr.write(w)
		return
	}
	defer se.put()
	se.runs.Add(1)
	req.session = se
	s.answer(w, r, func(start func() sink) (*RunResult, *RequestError) {
		return s.runOn(ctx, func() *runtime.Overlay { return se.ov }, se.box, &req, se.env, start)
	})
}

// sessionFile finds the session and the box path of a files request.
func (s *Server) sessionFile(r *http.Request) (*session, string, *RequestError) {
	se, rerr := s.sess.get(r.PathValue("id"))
	if rerr != nil {
		return nil, "", rerr
	}
	p, rerr := s.boxPath("/"+r.PathValue("path"), "/")
	if rerr != nil {
		return nil, "", rerr
	}
	return se, p, nil
}

// handleFilePut is PUT /v1/sessions/{id}/files/{path}: the body becomes
// the file (mode from ?mode=, octal, default 0644), parents made.
func (s *Server) handleFilePut(w http.ResponseWriter, r *http.Request) {
	se, p, rerr := s.sessionFile(r)
	if rerr != nil {
		rerr.write(w)
		return
	}
	mode := fs.FileMode(0o644)
	if m := r.URL.Query().Get("mode"); m != "" {
		n, err := strconv.ParseUint(m, 8, 32)
		if err != nil || n > 0o777 {
			badRequest("mode %q: want octal permission bits, at most 777", m).write(w)
			return
		}
		mode = fs.FileMode(n)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.maxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		tooLarge(mbe.Limit).write(w)
		return
	case err != nil:
		return
	}
	if rerr := se.take(r.Context()); rerr != nil {
		rerr.write(w)
		return
	}
	defer se.put()
	if se.uploaded+int64(len(data)) > s.uploadLimit() {
		(&RequestError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("the session's uploads would pass %d bytes, the server's memory limit of a run", s.uploadLimit())}).write(w)
		return
	}
	se.uploaded += int64(len(data))
	if err := putFile(se.ov, p, data, mode); err != nil {
		(&RequestError{Status: 400, Code: "file_error", Message: fmt.Sprintf("writing %s: %s", p, describe(err))}).write(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleFileGet is GET /v1/sessions/{id}/files/{path}: the file's bytes.
func (s *Server) handleFileGet(w http.ResponseWriter, r *http.Request) {
	se, p, rerr := s.sessionFile(r)
	if rerr != nil {
		rerr.write(w)
		return
	}
	if rerr := se.take(r.Context()); rerr != nil {
		rerr.write(w)
		return
	}
	data, err := se.ov.ReadFile(p)
	se.put()
	switch {
	case isNotExist(err):
		writeError(w, http.StatusNotFound, "no_such_file", fmt.Sprintf("%s: no such file in the session's box", p))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "file_error", fmt.Sprintf("reading %s: %s", p, describe(err)))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// uploadLimit bounds the bytes PUT into one session, and the file data
// its writable layer holds: the memory ceiling of a run.
func (s *Server) uploadLimit() int64 {
	switch m := s.opts.ceilings.Memory; m {
	case 0:
		return runtime.DefaultLimits.Memory
	case runtime.Unlimited:
		return 1 << 62
	default:
		return m
	}
}
