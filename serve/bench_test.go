package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

const benchSnippet = "print(sum(range(1000)))"

// BenchmarkAPIPython: clean-state runs of a Python snippet through the
// HTTP API over the Unix socket, as many at once as the server runs
// (GOMAXPROCS); runs/s is the throughput.
func BenchmarkAPIPython(b *testing.B) {
	ts := start(&testing.T{})
	defer ts.stop()
	body, _ := json.Marshal(RunRequest{Box: "py", Code: benchSnippet})
	ts.do(context.Background(), "POST", "/v1/runs", body) // warm
	var failed atomic.Int64
	b.ResetTimer()
	begin := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			status, out, err := ts.do(context.Background(), "POST", "/v1/runs", body)
			if err != nil || status != 200 || !bytes.Contains(out, []byte(`"stdout":"499500\n"`)) {
				failed.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "runs/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d runs failed", n)
	}
}

// BenchmarkNativePython: the same snippet with the host's python3 -c, as
// many at once, for the ratio.
func BenchmarkNativePython(b *testing.B) {
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("no python3")
	}
	begin := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if out, err := exec.Command(py, "-c", benchSnippet).Output(); err != nil || string(out) != "499500\n" {
				b.Errorf("python3: %v %q", err, out)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "runs/s")
}
