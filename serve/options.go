package serve

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"time"

	"github.com/wasmbox/wasmbox/runtime"
)

// Option configures a Server.
type Option func(*options) error

type options struct {
	concurrency  int
	queue        int
	maxBody      int64
	ceilings     runtime.Limits
	timeout      time.Duration
	output       int64
	collectBytes int64
	sessionTTL   time.Duration
	maxSessions  int
	mounts       []runtime.Mount
	network      *runtime.Network
	token        string
	boxes        []string
	mcpBox       string
	idleExit     time.Duration

	// onRunEnd, for tests: called with each run's error as it ends.
	onRunEnd func(error)
}

func defaultOptions() options {
	return options{
		concurrency:  goruntime.GOMAXPROCS(0),
		queue:        64,
		maxBody:      10 << 20,
		ceilings:     runtime.Limits{Memory: 512 << 20, Processes: 64, Files: 256},
		timeout:      30 * time.Second,
		output:       1 << 20,
		collectBytes: 16 << 20,
		sessionTTL:   10 * time.Minute,
		maxSessions:  64,
	}
}

// WithConcurrency sets how many runs execute at once. Default: GOMAXPROCS.
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("concurrency %d: want at least 1", n)
		}
		o.concurrency = n
		return nil
	}
}

// WithQueue sets how many requests may wait for a free slot; past it a
// request is answered 429 with Retry-After. 0 queues none. Default: 64.
func WithQueue(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("queue %d: must not be negative", n)
		}
		o.queue = n
		return nil
	}
}

// WithMaxBody bounds a request body in bytes (413 past it). Default: 10 MiB.
func WithMaxBody(n int64) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("body limit %d: want at least 1 byte", n)
		}
		o.maxBody = n
		return nil
	}
}

// WithLimits sets the ceilings of every run: a request may lower them,
// never raise them. Memory, Processes and Files follow runtime.Limits
// (zero: runtime.DefaultLimits, Unlimited: none); Output is ignored (see
// WithOutput). Default: 512 MiB of memory, 64 processes, 256 open files.
func WithLimits(l runtime.Limits) Option {
	return func(o *options) error {
		o.ceilings = l
		return nil
	}
}

// WithTimeout sets the ceiling (and default) of a run's wall time.
// Default: 30s.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("timeout %s: must be positive", d)
		}
		o.timeout = d
		return nil
	}
}

// WithOutput sets the ceiling (and default) of what a run's answer keeps
// of stdout and of stderr, each, in bytes; the rest is dropped and
// counted. Default: 1 MiB.
func WithOutput(n int64) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("output limit %d: want at least 1 byte", n)
		}
		o.output = n
		return nil
	}
}

// WithCollectBytes bounds the bytes of the files one run collects,
// together. Default: 16 MiB.
func WithCollectBytes(n int64) Option {
	return func(o *options) error {
		if n < 0 {
			return errors.New("collect limit must not be negative")
		}
		o.collectBytes = n
		return nil
	}
}

// WithSessions sets the idle TTL of a session (its ceiling and default)
// and how many may be open at once. Default: 10 minutes, 64.
func WithSessions(ttl time.Duration, max int) Option {
	return func(o *options) error {
		if ttl <= 0 || max < 0 {
			return fmt.Errorf("sessions: want a positive TTL and a non-negative count, got %s and %d", ttl, max)
		}
		o.sessionTTL, o.maxSessions = ttl, max
		return nil
	}
}

// WithMounts grants every run the operator's mounts (host directories
// opened with runtime.OpenHostDir). A request cannot add any, and files
// and collect never reach into them. Default: none.
func WithMounts(m ...runtime.Mount) Option {
	return func(o *options) error {
		o.mounts = append(o.mounts, m...)
		return nil
	}
}

// WithNetwork is what the operator grants runs: a request gets it when
// it asks ("network": true), or rules of its own within it. Publishing
// ports is not a server's: n.Publish must be empty. Default: no network.
func WithNetwork(n *runtime.Network) Option {
	return func(o *options) error {
		if n != nil && len(n.Publish) > 0 {
			return errors.New("a server's runs publish no ports")
		}
		o.network = n
		return nil
	}
}

// WithToken requires "Authorization: Bearer TOKEN" on every request.
// Default: none (a Unix socket's mode guards it; ListenTCP refuses to
// run without a token).
func WithToken(token string) Option {
	return func(o *options) error {
		if token == "" {
			return errors.New("empty token")
		}
		o.token = token
		return nil
	}
}

// WithBoxes opens and compiles these boxes when the server starts, so that
// their first request compiles nothing. Default: each box is opened and
// compiled at its first request.
func WithBoxes(refs ...string) Option {
	return func(o *options) error {
		o.boxes = append(o.boxes, refs...)
		return nil
	}
}

// WithIdleExit makes Serve return after d with no request in progress
// and no session open: a server started on demand (by wasmbox run) does
// not outlive its use. Default: never.
func WithIdleExit(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("idle exit %s: must be positive", d)
		}
		o.idleExit = d
		return nil
	}
}

// WithMCP serves the MCP tools of box ref (see Server.MCP) over
// streamable HTTP at /mcp, beside the API.
func WithMCP(ref string) Option {
	return func(o *options) error {
		o.mcpBox = ref
		return nil
	}
}

// withRunEnd, for tests, calls f with the error of each run as it ends.
func withRunEnd(f func(error)) Option {
	return func(o *options) error {
		o.onRunEnd = f
		return nil
	}
}
