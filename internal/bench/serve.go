package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"
)

// serveSnippet is the goal's clean-state snippet (issue 11).
const serveSnippet = "print(sum(range(1000)))"

// serveRows measures `wasmbox serve` with the python box benchpy (built by
// pythonRows): one request at a time (p50, p99), then throughput with as
// many clients as the server runs at once, against the native python3 -c
// with as many workers.
func serveRows(wasmboxBin string, env []string, home string, n int) ([]row, error) {
	native := "/usr/bin/python3"
	if _, err := os.Stat(native); err != nil {
		native = "python3"
	}
	const workers = 2
	// The home's socket: `wasmbox run` rides a server listening there.
	sock := filepath.Join(home, "serve.sock")
	srv := exec.Command(wasmboxBin, "serve", "--socket", sock, "--box", "benchpy", "--concurrency", fmt.Sprint(workers))
	srv.Env = env
	var logs bytes.Buffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		return nil, err
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: workers,
	}}
	body := []byte(`{"box":"benchpy","code":"` + serveSnippet + `"}`)
	post := func() error {
		resp, err := client.Post("http://wasmbox/v1/runs", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Contains(out, []byte(`"stdout":"499500\n"`)) {
			return fmt.Errorf("serve answered %d: %s", resp.StatusCode, out)
		}
		return nil
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if err := post(); err == nil {
			break
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("wasmbox serve: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	many := max(n, 50)
	lat := make([]time.Duration, 0, many)
	for range many {
		d, err := timeOnce(post)
		if err != nil {
			return nil, err
		}
		lat = append(lat, d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	nat, err := median(n, func() error { return exec.Command(native, "-c", serveSnippet).Run() })
	if err != nil {
		return nil, err
	}
	total := max(4*n, 100)
	apiRate, err := throughput(total, workers, post)
	if err != nil {
		return nil, err
	}
	natRate, err := throughput(total, workers, func() error { return exec.Command(native, "-c", serveSnippet).Run() })
	if err != nil {
		return nil, err
	}
	// The CLI through the server: a wasmbox process per run, as a user
	// types it; the goals are against native python3 -c pass.
	cli := func(args ...string) func() error {
		return func() error {
			c := exec.Command(wasmboxBin, append([]string{"run", "benchpy"}, args...)...)
			c.Env = env
			return c.Run()
		}
	}
	cliPy, err := median(max(n, 20), cli("python3", "-c", "pass"))
	if err != nil {
		return nil, err
	}
	cliTrue, err := median(max(n, 20), cli("true"))
	if err != nil {
		return nil, err
	}
	natPass, err := median(max(n, 20), func() error { return exec.Command(native, "-c", "pass").Run() })
	if err != nil {
		return nil, err
	}
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	return []row{
		{"`wasmbox run IMG python -c pass` through the home's `wasmbox serve` (CLI process per run)", ms(cliPy),
			fmt.Sprintf("%.1fx native `python3 -c pass` (%s; goal <= 2x)", ratio(cliPy, natPass), ms(natPass))},
		{"`wasmbox run IMG true` through the home's `wasmbox serve`", ms(cliTrue), "goal <= 10 ms"},
		{fmt.Sprintf("`wasmbox serve`: one `POST /v1/runs` of `%s` at a time, p50 (p99) of %d", serveSnippet, many),
			fmt.Sprintf("%s (%s)", ms(p50), ms(p99)), fmt.Sprintf("%.1fx native `python3 -c` (%s; goal p50 <= 1 ms, p99 <= 5 ms)", ratio(p50, nat), ms(nat))},
		{fmt.Sprintf("`wasmbox serve`: throughput of that snippet, %d runs by %d clients, %d at once", total, workers, workers),
			fmt.Sprintf("%.1f runs/s", apiRate), fmt.Sprintf("%.2fx native `python3 -c` with %d workers (%.1f runs/s; goal >= 500 runs/s)", apiRate/natRate, workers, natRate)},
	}, nil
}
