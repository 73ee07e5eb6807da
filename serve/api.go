package serve

import "github.com/wasmbox/wasmbox/runtime"

// The JSON of the API. serve/openapi.json describes the same shapes; a test
// holds them together.

// RunRequest is the body of POST /v1/runs and POST /v1/sessions/{id}/runs.
type RunRequest struct {
	// Box names the box as `wasmbox run` does (name[:tag], digest or a
	// digest prefix). Ignored on a session, which has its box.
	Box string `json:"box,omitempty"`
	// Code is Python source, run as `python3 -c CODE` (stdin stays the
	// request's). Exclusive with Cmd.
	Code string `json:"code,omitempty"`
	// Cmd is the argv to run instead of the box's ENTRYPOINT and CMD.
	Cmd []string `json:"cmd,omitempty"`
	// Stdin is the run's standard input, as text; StdinBase64 as bytes.
	Stdin       string `json:"stdin,omitempty"`
	StdinBase64 string `json:"stdin_base64,omitempty"`
	// Env is set over the box's environment.
	Env map[string]string `json:"env,omitempty"`
	// Workdir is the working directory (absolute); default the box's.
	Workdir string `json:"workdir,omitempty"`
	// Files are placed in the box before the run, by box path (relative
	// paths are relative to the working directory).
	Files map[string]FileContent `json:"files,omitempty"`
	// Collect names files to return after the run: box paths or globs
	// (path.Match patterns, one directory level per element).
	Collect []string `json:"collect,omitempty"`
	// Limits lower the server's limits for this run (never raise them).
	Limits *RequestLimits `json:"limits,omitempty"`
	// Network is what the run may reach, within what the operator granted
	// (serve --network): absent or false, nothing; true, all the
	// operator's grant; {"allow": [RULE...], "deny": [RULE...]}, those
	// rules within it (runtime.ParseNetRule). A session's runs have the
	// session's.
	Network *NetworkRequest `json:"network,omitempty"`

	// mounts are a caller's in this process (an MCP tool's result
	// directory), beside the operator's; no request can set them.
	mounts []runtime.Mount
	// session, for a session's run: its code runs in the session's
	// interpreter (pysession.go).
	session *session
}

// FileContent is a file's content: Content as text or Base64 as bytes.
type FileContent struct {
	Content *string `json:"content,omitempty"`
	Base64  *string `json:"base64,omitempty"`
	// Mode is the permission bits (default 0644).
	Mode *uint32 `json:"mode,omitempty"`
}

// RequestLimits are what a request asks for; each is clamped to the
// server's ceiling, and zero or absent means the server's.
type RequestLimits struct {
	// Memory in bytes.
	Memory int64 `json:"memory,omitempty"`
	// TimeoutMS is the run's wall time in milliseconds.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// OutputBytes bounds what is kept of stdout and of stderr, each;
	// the rest is dropped and counted.
	OutputBytes int64 `json:"output_bytes,omitempty"`
	// Processes bounds the processes of the run at once.
	Processes int `json:"processes,omitempty"`
}

// Statuses of a run.
const (
	StatusOK          = "ok"            // exit 0
	StatusError       = "error"         // a non-zero exit, a crash, a command not found
	StatusTimeout     = "timeout"       // the time limit ended it
	StatusOutOfMemory = "out_of_memory" // the memory limit ended it
	StatusKilled      = "killed"        // another limit, or the client went away
)

// RunResult is the answer to a run.
type RunResult struct {
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	// Reason says why wasmbox ended the run; empty when the program
	// exited by itself.
	Reason        string          `json:"reason,omitempty"`
	Stdout        string          `json:"stdout"`
	Stderr        string          `json:"stderr"`
	StdoutDropped int64           `json:"stdout_dropped"`
	StderrDropped int64           `json:"stderr_dropped"`
	Files         []CollectedFile `json:"files"`
	Usage         Usage           `json:"usage"`
}

// CollectedFile is one file collected after a run; Error is set instead
// of Base64 when it could not be (missing, a directory, too large).
type CollectedFile struct {
	Path   string `json:"path"`
	Base64 string `json:"base64,omitempty"`
	Size   int64  `json:"size"`
	Error  string `json:"error,omitempty"`
}

// Usage is what a run used.
type Usage struct {
	WallMS float64 `json:"wall_ms"`
	// QueueMS is how long the request waited for a free slot.
	QueueMS float64 `json:"queue_ms"`
	// PeakMemory is the most memory the run held at once, in bytes: its
	// processes' Wasm memories and the file data it wrote in memory
	// (runtime.Stats).
	PeakMemory *int64 `json:"peak_memory,omitempty"`
	// Snapshot says the run's program started from a snapshot taken
	// after its initialization (runtime.SnapshotBox), not from scratch;
	// false for a session's code runs, which run in its lasting
	// interpreter.
	Snapshot bool `json:"snapshot"`
}

// SessionRequest is the body of POST /v1/sessions.
type SessionRequest struct {
	Box string            `json:"box"`
	Env map[string]string `json:"env,omitempty"`
	// TTLSeconds: the session ends when idle this long (clamped to the
	// server's session TTL, which is also the default).
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
	// Network is what the session's runs may reach, as RunRequest's.
	Network *NetworkRequest `json:"network,omitempty"`
}

// Session describes an open session.
type Session struct {
	ID         string `json:"id"`
	Box        string `json:"box"`
	Digest     string `json:"digest"`
	TTLSeconds int64  `json:"ttl_seconds"`
	Runs       int64  `json:"runs"`
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error APIError `json:"error"`
}

// APIError is an error's code (stable, for programs) and message (for
// people).
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
