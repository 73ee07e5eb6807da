package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// signalGrace is how long wasmbox waits, after SIGINT or SIGTERM, for the
// box to end by itself. A box ends at its next system call; one spinning
// in pure computation never makes one (the runner is not interruptible by
// default, RATIONALE.md), so after the grace wasmbox exits and takes the
// box with it, as a supervisor (timeout, kill, a container stop) expects.
const signalGrace = 2 * time.Second

// drainGrace, when a command sets it (serve, which drains its requests),
// replaces signalGrace; nanoseconds.
var drainGrace atomic.Int64

func graceAfterSignal() time.Duration {
	if d := time.Duration(drainGrace.Load()); d > 0 {
		return d
	}
	return signalGrace
}

// errSignal is the cause of a context a signal cancelled.
type errSignal struct{ sig syscall.Signal }

func (e errSignal) Error() string { return "interrupted by " + signalName(e.sig) }

// status is the shell's exit status for the signal: 128 + its number.
func (e errSignal) status() int { return 128 + int(e.sig) }

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// signalContext returns a context that SIGINT and SIGTERM cancel with an
// errSignal cause. After the first signal, wasmbox exits with 128+signal
// when signalGrace passes or at a second signal, whatever is running.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var first errSignal
		var grace <-chan time.Time
		for {
			select {
			case <-done:
				return
			case s := <-ch:
				sig, _ := s.(syscall.Signal)
				if grace != nil {
					exitForSignal(first, "a second signal came")
				}
				first = errSignal{sig}
				cancel(first)
				grace = time.After(graceAfterSignal())
			case <-grace:
				exitForSignal(first, fmt.Sprintf("the box did not stop within %s", graceAfterSignal()))
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

func exitForSignal(e errSignal, why string) {
	fmt.Fprintf(os.Stderr, "wasmbox: %s: %s; ending it\n", e, why)
	os.Exit(e.status())
}

// interrupted reports the exit status and message for a context a signal
// cancelled.
func interrupted(ctx context.Context) (*exitError, bool) {
	if e, ok := context.Cause(ctx).(errSignal); ok {
		return &exitError{code: e.status(), msg: e.Error()}, true
	}
	if ctx.Err() != nil {
		return &exitError{code: exitInterrupted, msg: "interrupted"}, true
	}
	return nil, false
}
