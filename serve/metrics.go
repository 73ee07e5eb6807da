package serve

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// metrics are the server's counters, written in Prometheus's text
// exposition format (version 0.0.4) by hand.
type metrics struct {
	mu       sync.Mutex
	runs     map[string]int64 // by status ("failed": wasmbox itself failed)
	rejected map[string]int64 // by error code
	buckets  []float64        // seconds, upper bounds
	counts   []int64          // per bucket, not cumulative
	sum      float64
	total    int64
}

func newMetrics() *metrics {
	b := []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	return &metrics{runs: map[string]int64{}, rejected: map[string]int64{}, buckets: b, counts: make([]int64, len(b))}
}

// observe counts a run that ended with status after wall time d.
func (m *metrics) observe(status string, d time.Duration) {
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[status]++
	m.total++
	m.sum += sec
	for i, ub := range m.buckets {
		if sec <= ub {
			m.counts[i]++
			break
		}
	}
}

// reject counts a request refused before running, by its error code.
func (m *metrics) reject(code string) {
	m.mu.Lock()
	m.rejected[code]++
	m.mu.Unlock()
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (m *metrics) serveHTTP(s *Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		m.mu.Lock()
		b.WriteString("# HELP wasmbox_runs_total Runs that ended, by status (failed: wasmbox could not run it).\n# TYPE wasmbox_runs_total counter\n")
		for _, st := range []string{StatusOK, StatusError, StatusTimeout, StatusOutOfMemory, StatusKilled, "failed"} {
			fmt.Fprintf(&b, "wasmbox_runs_total{status=%q} %d\n", st, m.runs[st])
		}
		b.WriteString("# HELP wasmbox_run_failures_total Runs that did not end ok, by status.\n# TYPE wasmbox_run_failures_total counter\n")
		for _, st := range sortedKeys(m.runs) {
			if st != StatusOK {
				fmt.Fprintf(&b, "wasmbox_run_failures_total{status=%q} %d\n", st, m.runs[st])
			}
		}
		b.WriteString("# HELP wasmbox_requests_rejected_total Requests refused before running, by error code.\n# TYPE wasmbox_requests_rejected_total counter\n")
		for _, code := range sortedKeys(m.rejected) {
			fmt.Fprintf(&b, "wasmbox_requests_rejected_total{code=%q} %d\n", code, m.rejected[code])
		}
		b.WriteString("# HELP wasmbox_run_duration_seconds Wall time of runs.\n# TYPE wasmbox_run_duration_seconds histogram\n")
		var cum int64
		for i, ub := range m.buckets {
			cum += m.counts[i]
			fmt.Fprintf(&b, "wasmbox_run_duration_seconds_bucket{le=\"%g\"} %d\n", ub, cum)
		}
		fmt.Fprintf(&b, "wasmbox_run_duration_seconds_bucket{le=\"+Inf\"} %d\n", m.total)
		fmt.Fprintf(&b, "wasmbox_run_duration_seconds_sum %g\n", m.sum)
		fmt.Fprintf(&b, "wasmbox_run_duration_seconds_count %d\n", m.total)
		m.mu.Unlock()
		b.WriteString("# HELP wasmbox_runs_in_flight Runs holding a slot.\n# TYPE wasmbox_runs_in_flight gauge\n")
		fmt.Fprintf(&b, "wasmbox_runs_in_flight %d\n", s.lim.running())
		b.WriteString("# HELP wasmbox_runs_queued Requests waiting for a slot.\n# TYPE wasmbox_runs_queued gauge\n")
		fmt.Fprintf(&b, "wasmbox_runs_queued %d\n", s.lim.waiting.Load())
		b.WriteString("# HELP wasmbox_sessions Open sessions.\n# TYPE wasmbox_sessions gauge\n")
		fmt.Fprintf(&b, "wasmbox_sessions %d\n", s.sess.count())
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write([]byte(b.String()))
	}
}
