package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// With WASMBOX_DAEMON=auto, wasmbox run starts the home's server when none
// runs, as build tools keep a daemon: it serves that run and the next ones
// warm, and exits after daemonIdle without a request
// (WASMBOX_DAEMON_IDLE, a duration, sets another). Off by default: a
// process that outlives the command is the user's choice.
const (
	envDaemon     = "WASMBOX_DAEMON"
	envDaemonIdle = "WASMBOX_DAEMON_IDLE"
	daemonIdle    = 10 * time.Minute
)

// startDaemon starts `wasmbox serve --idle-exit` for the home in a
// session of its own, its output to serve.log in the home, and waits until
// it answers on sock; false if it does not within a few seconds.
func startDaemon(home, sock string) bool {
	exe, err := os.Executable()
	if err != nil {
		return false
	}
	idle := daemonIdle
	if d, err := time.ParseDuration(os.Getenv(envDaemonIdle)); err == nil && d > 0 {
		idle = d
	}
	log, err := os.OpenFile(filepath.Join(home, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return false
	}
	defer log.Close()
	cmd := exec.Command(exe, "serve", "--socket", sock, "--idle-exit", idle.String())
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return false
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() // another server won the socket
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if answers(sock) {
			return true
		}
		select {
		case <-exited:
			// Another run started the server first: it may answer yet.
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// answers reports whether a server accepts connections on sock.
func answers(sock string) bool {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
