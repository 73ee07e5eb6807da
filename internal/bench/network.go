package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// networkRows measures the network of a python box against native
// python3 in the same run (issue 12): the time to first byte of a
// loopback HTTP GET (a server of this process, measured inside each
// python, start-up excluded), and the requests per second a loopback
// http.server answers when the box serves it through -p.
func networkRows(cmd func(args ...string) func() error, wasmboxBin string, env []string, home, native string) ([]row, error) {
	ctxDir, err := benchBox(cmd, home, "benchnet", "FROM python:3.11-slim\nCOPY ttfb.py serve.py /bench/\n", "ttfb.py", "serve.py")
	if err != nil {
		return nil, err
	}

	// Time to first byte, against a server of this process.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })}
	go srv.Serve(ln)
	defer srv.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	const gets = "300"
	usOf := func(args ...string) (time.Duration, error) {
		out, err := output(env, args...)
		if err != nil {
			return 0, err
		}
		us, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			return 0, fmt.Errorf("%v printed %q", args, out)
		}
		return time.Duration(us) * time.Microsecond, nil
	}
	natTTFB, err := usOf(native, filepath.Join(ctxDir, "ttfb.py"), "127.0.0.1", port, gets)
	if err != nil {
		return nil, err
	}
	boxTTFB, err := usOf(wasmboxBin, "run", "--network", "allow=127.0.0.1:"+port, "benchnet", "python", "/bench/ttfb.py", "127.0.0.1", port, gets)
	if err != nil {
		return nil, err
	}

	// Requests per second of a loopback server.
	natRPS, err := serverRPS(env, func(port int) []string {
		return []string{native, filepath.Join(ctxDir, "serve.py"), strconv.Itoa(port)}
	})
	if err != nil {
		return nil, fmt.Errorf("native server: %w", err)
	}
	boxRPS, err := serverRPS(env, func(port int) []string {
		return []string{wasmboxBin, "run", "-p", fmt.Sprintf("127.0.0.1:%d:8000", port), "benchnet", "python", "/bench/serve.py", "8000"}
	})
	if err != nil {
		return nil, fmt.Errorf("server in a box: %w", err)
	}
	return []row{
		{"network: time to first byte of a loopback HTTP GET from python (median of " + gets + ", in the process)", fmt.Sprintf("%.0f µs", float64(boxTTFB.Microseconds())),
			fmt.Sprintf("%.1fx native python3 (%d µs)", ratio(boxTTFB, natTTFB), natTTFB.Microseconds())},
		{"network: requests/s of python's http.server in a box, published with -p (4 clients, new connection each)", fmt.Sprintf("%.0f/s", boxRPS),
			fmt.Sprintf("%.2fx native python3 (%.0f/s)", boxRPS/natRPS, natRPS)},
	}, nil
}

// serverRPS starts the server argv(port) gives, waits for its "ready",
// and counts the requests 4 clients get answered in 3 seconds.
func serverRPS(env []string, argv func(port int) []string) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := argv(port)
	c := exec.Command(args[0], args[1:]...)
	c.Env = env
	out, err := c.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		return 0, err
	}
	defer func() {
		c.Process.Kill()
		c.Wait()
	}()
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("printed %q", line)
		}
		ready <- err
		io.Copy(io.Discard, out)
	}()
	select {
	case err := <-ready:
		if err != nil {
			return 0, fmt.Errorf("%v: %v\n%s", args, err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		return 0, fmt.Errorf("%v: not ready after a minute\n%s", args, stderr.String())
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tr := &http.Transport{DisableKeepAlives: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && string(b) != "hello\n" {
			err = fmt.Errorf("answered %q", b)
		}
		return err
	}
	if err := get(); err != nil { // warm
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		count int
		first error
	)
	start := time.Now()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := get()
				mu.Lock()
				if err != nil && first == nil && ctx.Err() == nil {
					first = err
				}
				if err == nil {
					count++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return float64(count) / time.Since(start).Seconds(), nil
}

// runNetworkRowsOnly prints the network rows alone (-rows network).
func runNetworkRowsOnly(wasmbox string, n int) error {
	home, err := os.MkdirTemp("", "wasmbox-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	env := append(os.Environ(), "WASMBOX_HOME="+home)
	native := "/usr/bin/python3"
	if _, err := os.Stat(native); err != nil {
		native = "python3"
	}
	rows, err := networkRows(cliRunner(wasmbox, env), wasmbox, env, home, native)
	if err != nil {
		return err
	}
	printRows(rows, n)
	return nil
}
