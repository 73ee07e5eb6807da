package serve

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
)

// limiter admits runs: up to n at once, up to queue more waiting for a
// slot; past that a request is refused at once.
type limiter struct {
	slots   chan struct{}
	queue   int64
	waiting atomic.Int64
}

var errQueueFull = errors.New("the server is busy: every run slot is taken and the queue is full")

func newLimiter(n, queue int) *limiter {
	return &limiter{slots: make(chan struct{}, n), queue: int64(queue)}
}

// acquire takes a slot, waiting in the queue while there is room in it
// and ctx lasts. release gives it back.
func (l *limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	if l.waiting.Add(1) > l.queue {
		l.waiting.Add(-1)
		return errQueueFull
	}
	defer l.waiting.Add(-1)
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limiter) release() { <-l.slots }

// running is the number of runs holding a slot.
func (l *limiter) running() int { return len(l.slots) }

// auth requires the bearer token when the server has one.
func (s *Server) auth(h http.Handler) http.Handler {
	if s.opts.token == "" {
		return h
	}
	want := []byte(s.opts.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			writeError(w, http.StatusUnauthorized, "unauthorized", "a bearer token is required: Authorization: Bearer TOKEN")
			return
		}
		h.ServeHTTP(w, r)
	})
}
