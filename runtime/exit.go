package runtime

import "fmt"

// ExitKilled is the status of a box that a limit ended (128 + SIGKILL, as
// the kernel's OOM killer or docker's timeout leave it).
const ExitKilled = 137

// ExitTrapped is the status of a program that crashed on a Wasm trap
// (unreachable, out-of-bounds access...): 128 + SIGABRT, as a native
// program that aborted.
const ExitTrapped = 134

// Exit statuses wasmbox chooses for a command it could not run, as a
// POSIX shell does.
const (
	ExitNotExecutable = 126
	ExitNotFound      = 127
)

// Cause says why a command ended without exiting 0.
type Cause int

const (
	// CauseExit: the program exited with a status of its own.
	CauseExit Cause = iota
	// CauseTrap: the program crashed on a Wasm trap (ExitTrapped).
	CauseTrap
	// CauseNotFound: the command is not in the box (ExitNotFound).
	CauseNotFound
	// CauseNotExecutable: the command cannot run: a native program, not
	// a Wasm module or a #! script, not executable, a module that
	// cannot start (ExitNotExecutable).
	CauseNotExecutable
	// CauseMemoryLimit: Limits.Memory ended the run (ExitKilled).
	CauseMemoryLimit
	// CauseTimeLimit: the run's context reached its deadline (ExitKilled).
	CauseTimeLimit
	// CauseProcessLimit: Limits.Processes ended the run (ExitKilled).
	CauseProcessLimit
	// CauseOutputLimit: Limits.Output ended the run (ExitKilled).
	CauseOutputLimit
	// CauseCancelled: the run's context was cancelled (ExitKilled).
	CauseCancelled
	// CauseFileLimit: Limits.Files ended the run (ExitKilled).
	CauseFileLimit
)

var causeNames = [...]string{
	CauseExit:          "exit",
	CauseTrap:          "trap",
	CauseNotFound:      "not found",
	CauseNotExecutable: "not executable",
	CauseMemoryLimit:   "memory limit",
	CauseTimeLimit:     "time limit",
	CauseProcessLimit:  "process limit",
	CauseOutputLimit:   "output limit",
	CauseCancelled:     "cancelled",
	CauseFileLimit:     "open file limit",
}

func (c Cause) String() string {
	if c >= 0 && int(c) < len(causeNames) {
		return causeNames[c]
	}
	return fmt.Sprintf("Cause(%d)", int(c))
}

// Killed reports whether wasmbox ended the run (a limit, its context).
func (c Cause) Killed() bool { return c >= CauseMemoryLimit }

// ExitError reports a box command that did not exit 0: its own exit
// status (CauseExit), or a status wasmbox chose, with the cause and a
// message saying why.
type ExitError struct {
	// Code is the status, 0-255.
	Code int
	// Cause is why the command ended.
	Cause Cause
	// Reason says why wasmbox ended the command, in a line for a person;
	// empty when the status is the command's own.
	Reason string
}

// ExitCode is the status, 0-255.
func (e *ExitError) ExitCode() int { return e.Code }

func (e *ExitError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// notFound is the error of a command that is not in the box.
func notFound(format string, args ...any) *ExitError {
	return &ExitError{Code: ExitNotFound, Cause: CauseNotFound, Reason: fmt.Sprintf(format, args...)}
}

// notExecutable is the error of a command that cannot run.
func notExecutable(format string, args ...any) *ExitError {
	return &ExitError{Code: ExitNotExecutable, Cause: CauseNotExecutable, Reason: fmt.Sprintf(format, args...)}
}
