// Package serve is the agent-facing server of wasmbox (`wasmbox serve`): an
// HTTP API over one warm runtime.Runtime, so that compiled modules stay in
// memory and each request only instantiates them.
//
// It owns the API (POST /v1/runs, sessions, files in and out, server-sent
// events), admission (a concurrency limit and a bounded queue: a full queue
// answers 429), per-request deadlines, metrics (/metrics, Prometheus text)
// and the listeners (a Unix socket by default; TCP only with a bearer
// token).
//
// It is a thin layer over the library and must stay one: it runs boxes
// through runtime.OpenBox and Runtime.RunBox/Run only, never widens what the
// operator granted (a request's limits are clamped to the server's ceilings;
// a request cannot add mounts or network), and it prints nothing: the
// command (cmd/wasmbox) decides what to log.
//
// Choices: code runs as `python3 -c CODE`, so the request's stdin stays the
// program's; files and collect name box paths (relative ones from the
// working directory), refuse "..", and never reach the operator's mounts or
// the host; a session's runs take turns on its writable layer.
//
// A session's code runs share one Python interpreter (pysession.go), so
// their globals last as its files do.
package serve
