package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wasmbox/wasmbox/internal/units"
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
	// Memory: the server's RSS idle, then with sessions open (each with a
	// file written by a run), then while runs go on.
	pid := fmt.Sprint(srv.Process.Pid)
	idle, rssErr := rssOf(pid)
	const sessions = 50 // within serve's default --max-sessions
	for i := 0; i < sessions && rssErr == nil; i++ {
		rssErr = openSession(client)
	}
	withSessions, err := rssOf(pid)
	if rssErr == nil {
		rssErr = err
	}
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r, err := rssOf(pid); err == nil && r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	_, runErr := throughput(4*workers, workers, post)
	close(stopSampling)
	<-sampled
	if rssErr == nil {
		rssErr = runErr
	}
	rows := []row{
		{"`wasmbox run IMG python -c pass` through the home's `wasmbox serve` (CLI process per run)", ms(cliPy),
			fmt.Sprintf("%.1fx native `python3 -c pass` (%s; goal <= 2x)", ratio(cliPy, natPass), ms(natPass))},
		{"`wasmbox run IMG true` through the home's `wasmbox serve`", ms(cliTrue), "goal <= 10 ms"},
		{fmt.Sprintf("`wasmbox serve`: one `POST /v1/runs` of `%s` at a time, p50 (p99) of %d", serveSnippet, many),
			fmt.Sprintf("%s (%s)", ms(p50), ms(p99)), fmt.Sprintf("%.1fx native `python3 -c` (%s; goal p50 <= 1 ms, p99 <= 5 ms)", ratio(p50, nat), ms(nat))},
		{fmt.Sprintf("`wasmbox serve`: throughput of that snippet, %d runs by %d clients, %d at once", total, workers, workers),
			fmt.Sprintf("%.1f runs/s", apiRate), fmt.Sprintf("%.2fx native `python3 -c` with %d workers (%.1f runs/s; goal >= 500 runs/s)", apiRate/natRate, workers, natRate)},
	}
	if rssErr != nil {
		return rows, nil // no /proc here: no memory rows
	}
	return append(rows,
		row{"`wasmbox serve`: RSS idle, after its first runs", units.Size(idle), ""},
		row{fmt.Sprintf("`wasmbox serve`: RSS per idle session (%d open, a 64 KiB file written in each)", sessions), perSession(withSessions-idle, sessions), ""},
		row{fmt.Sprintf("`wasmbox serve`: RSS per concurrent run (peak while %d run, over idle)", workers), units.Size((peak.Load() - withSessions) / workers), ""},
	), nil
}

// perSession is an RSS growth shared by n sessions; the collector may
// have given back more than they took.
func perSession(grew int64, n int) string {
	if grew <= 0 {
		return fmt.Sprintf("below the noise (RSS changed by %s)", units.Size(grew))
	}
	return units.Size(grew / int64(n))
}

// openSession opens a session of benchpy and runs a write in it.
func openSession(client *http.Client) error {
	resp, err := client.Post("http://wasmbox/v1/sessions", "application/json", strings.NewReader(`{"box":"benchpy"}`))
	if err != nil {
		return err
	}
	var se struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&se)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("opening a session: %d %v", resp.StatusCode, err)
	}
	resp, err = client.Post("http://wasmbox/v1/sessions/"+se.ID+"/runs", "application/json",
		strings.NewReader(`{"code":"open('/tmp/state', 'w').write('x' * 65536)"}`))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("a session run: %d", resp.StatusCode)
	}
	return nil
}
