//go:build unix

package main

import "syscall"

// detached puts the daemon in a session of its own: the terminal's
// signals (^C to the run that started it) do not reach it.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
