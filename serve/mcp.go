package serve

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wasmbox/wasmbox/runtime"
)

// The MCP tools. An MCP session (one stdio connection, or one streamable
// HTTP session) is a box instance: its writable layer lasts from one tool
// call to the next, so write_file, then run_python_code, then read_file
// work on the same files. Each call is a new process: Python's globals do
// not last (global_variables passes values in). The box, its mounts and
// the limits are the operator's (the command line); no tool argument
// widens them.

//go:embed pyrun.py
var pyrun string

// resultDir holds the driver's answer during a run of run_python_code: a
// tmpfs mounted for that run only, so the box's layer keeps no trace.
const resultDir = "/run/wasmbox-mcp"

// PythonInput is run_python_code's input, as the mcp-run-python server
// has it.
type PythonInput struct {
	PythonCode      string         `json:"python_code" jsonschema:"Python code to run; the value of its last line, when an expression, is returned"`
	GlobalVariables map[string]any `json:"global_variables,omitempty" jsonschema:"variables set in the code's global namespace before it runs"`
}

// PythonOutput is run_python_code's structured answer.
type PythonOutput struct {
	// Status is the API's: ok, error, timeout, out_of_memory or killed.
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	// ReturnValue is the last expression's value as JSON (its repr, as a
	// string, when it has no JSON form); absent when the code does not
	// end with an expression or fails.
	ReturnValue any    `json:"return_value,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// ShellInput is run_shell_command's input.
type ShellInput struct {
	Command string `json:"command" jsonschema:"a command line for the box's /bin/sh"`
}

// ShellOutput is run_shell_command's answer.
type ShellOutput struct {
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	Reason   string `json:"reason,omitempty"`
}

// ReadFileInput is read_file's input.
type ReadFileInput struct {
	Path string `json:"path" jsonschema:"a file of the box: absolute, or relative to its working directory"`
}

// FileOutput is read_file's and write_file's answer.
type FileOutput struct {
	Path    string `json:"path"`
	Size    int    `json:"size"`
	Content string `json:"content,omitempty"`
	// Encoding is "base64" when the file is not UTF-8 text.
	Encoding string `json:"encoding,omitempty"`
}

// WriteFileInput is write_file's input.
type WriteFileInput struct {
	Path    string `json:"path" jsonschema:"a file of the box: absolute, or relative to its working directory; parents are made"`
	Content string `json:"content" jsonschema:"the file's text"`
}

// mcpBox is the box instance of one MCP session.
type mcpBox struct {
	s   *Server
	box *runtime.Box
	// ready is closed once the box is compiled: a first call waits for
	// it before its time limit starts.
	ready <-chan struct{}
	mu    sync.Mutex // one call at a time works on ov
	ov    *runtime.Overlay
	dir   string
}

// MCP returns an MCP server whose tools run in the box ref. Each call of
// MCP is one box instance: serve it over one connection (stdio); for
// streamable HTTP, MCPHandler makes one per session. A box the server had
// not seen compiles in the background: the client's handshake and
// tools/list do not wait for it, its first call does.
func (s *Server) MCP(ctx context.Context, ref string) (*mcp.Server, error) {
	box, ready, err := s.openMCPBox(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.mcpServer(box, ready), nil
}

// MCPHandler serves the MCP tools of box ref over streamable HTTP, one box
// instance per MCP session.
func (s *Server) MCPHandler(ctx context.Context, ref string) (http.Handler, error) {
	box, ready, err := s.openMCPBox(ctx, ref)
	if err != nil {
		return nil, err
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcpServer(box, ready) }, nil)
	return s.auth(h), nil
}

// openMCPBox opens box ref; ready is closed once its modules are compiled,
// which runs wait for outside their deadline.
func (s *Server) openMCPBox(ctx context.Context, ref string) (box *runtime.Box, ready <-chan struct{}, err error) {
	box, fresh, err := s.boxes.open(ref)
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	if fresh {
		go func() {
			defer close(done)
			s.rt.WarmBox(context.WithoutCancel(ctx), box)
		}()
	} else {
		close(done)
	}
	return box, done, nil
}

func (s *Server) mcpServer(box *runtime.Box, ready <-chan struct{}) *mcp.Server {
	dir := box.Config().WorkingDir
	if dir == "" {
		dir = "/"
	}
	b := &mcpBox{s: s, box: box, ready: ready, ov: box.Overlay(), dir: dir}
	srv := mcp.NewServer(&mcp.Implementation{Name: "wasmbox", Version: "1"}, &mcp.ServerOptions{
		Instructions: "Tools run in a WebAssembly sandbox (box " + box.Digest()[:19] + "): " + networkWords(s.opts.network) + ", bounded memory and time. Files written in one call are there in the next.",
	})
	mcp.AddTool(srv, &mcp.Tool{
		Name: "run_python_code",
		Description: "Run Python code in the sandbox and return its output and the value of its last expression. " +
			"Each call is a fresh interpreter; files persist between calls, variables do not (pass them in global_variables).",
	}, b.runPython)
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "run_shell_command",
		Description: "Run a command line with the sandbox's /bin/sh and return its output and exit status.",
	}, b.runShell)
	mcp.AddTool(srv, &mcp.Tool{Name: "read_file", Description: "Read a file of the sandbox."}, b.readFile)
	mcp.AddTool(srv, &mcp.Tool{Name: "write_file", Description: "Write a text file in the sandbox, making its parent directories."}, b.writeFile)
	return srv
}

// run runs req on the session's layer, with the server's admission and
// limits, as a run of the HTTP API does.
func (b *mcpBox) run(ctx context.Context, req *RunRequest, extra ...runtime.Mount) (*RunResult, error) {
	select {
	case <-b.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	req.mounts = extra
	if b.s.opts.network != nil {
		// The operator's grant (mcp --network), never more: the model
		// cannot ask for any.
		req.Network = &NetworkRequest{On: true}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	res, rerr := b.s.runOn(ctx, func() *runtime.Overlay { return b.ov }, b.box, req, nil, nil)
	if rerr != nil {
		return nil, rerr
	}
	return res, nil
}

func (b *mcpBox) runPython(ctx context.Context, _ *mcp.CallToolRequest, in PythonInput) (*mcp.CallToolResult, PythonOutput, error) {
	stdin, err := json.Marshal(map[string]any{"code": in.PythonCode, "globals": in.GlobalVariables})
	if err != nil {
		return nil, PythonOutput{}, fmt.Errorf("global_variables: %w", err)
	}
	result := runtime.NewTmpfs(1 << 20)
	res, err := b.run(ctx, &RunRequest{Cmd: []string{"python3", "-c", pyrun, resultDir + "/value"}, Stdin: string(stdin)},
		runtime.Mount{Target: resultDir, Volume: result})
	if err != nil {
		return nil, PythonOutput{}, err
	}
	out := PythonOutput{Status: res.Status, ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr, Reason: res.Reason}
	value, err := result.ReadFile("value")
	if err != nil || json.Unmarshal(value, &out.ReturnValue) != nil {
		value = nil
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: pythonText(out, value)}}}, out, nil
}

// pythonText is the answer as mcp-run-python words it, for models that
// read the text rather than the structured content.
func pythonText(o PythonOutput, value []byte) string {
	status := o.Status
	switch status {
	case StatusOK:
		status = "success"
	case StatusError:
		status = "run-error"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "<status>%s</status>\n", status)
	if o.Stdout != "" {
		fmt.Fprintf(&sb, "<output>\n%s\n</output>\n", strings.TrimRight(o.Stdout, "\n"))
	}
	if value != nil {
		fmt.Fprintf(&sb, "<return_value>\n%s\n</return_value>\n", value)
	}
	if o.Stderr != "" || o.Reason != "" {
		fmt.Fprintf(&sb, "<error>\n%s\n</error>\n", strings.TrimRight(strings.TrimSpace(o.Stderr+"\n"+o.Reason), "\n"))
	}
	return sb.String()
}

func (b *mcpBox) runShell(ctx context.Context, _ *mcp.CallToolRequest, in ShellInput) (*mcp.CallToolResult, ShellOutput, error) {
	res, err := b.run(ctx, &RunRequest{Cmd: []string{"/bin/sh", "-c", in.Command}})
	if err != nil {
		return nil, ShellOutput{}, err
	}
	return nil, ShellOutput{Status: res.Status, ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr, Reason: res.Reason}, nil
}

func (b *mcpBox) readFile(ctx context.Context, _ *mcp.CallToolRequest, in ReadFileInput) (*mcp.CallToolResult, FileOutput, error) {
	p, aerr := b.s.boxPath(in.Path, b.dir)
	if aerr != nil {
		return nil, FileOutput{}, aerr
	}
	b.mu.Lock()
	data, err := b.ov.ReadFile(p)
	b.mu.Unlock()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, FileOutput{}, fmt.Errorf("%s: no such file in the box", p)
	case err != nil:
		return nil, FileOutput{}, fmt.Errorf("reading %s: %s", p, describe(err))
	}
	if int64(len(data)) > b.s.opts.output {
		return nil, FileOutput{}, fmt.Errorf("%s: %d bytes, over the output limit of %d", p, len(data), b.s.opts.output)
	}
	out := FileOutput{Path: p, Size: len(data), Content: string(data)}
	if !utf8.Valid(data) {
		out.Content, out.Encoding = base64.StdEncoding.EncodeToString(data), "base64"
	}
	return nil, out, nil
}

func (b *mcpBox) writeFile(ctx context.Context, _ *mcp.CallToolRequest, in WriteFileInput) (*mcp.CallToolResult, FileOutput, error) {
	p, aerr := b.s.boxPath(in.Path, b.dir)
	if aerr != nil {
		return nil, FileOutput{}, aerr
	}
	b.mu.Lock()
	err := putFile(b.ov, p, []byte(in.Content), 0o644)
	b.mu.Unlock()
	if err != nil {
		return nil, FileOutput{}, fmt.Errorf("writing %s: %s", p, describe(err))
	}
	return nil, FileOutput{Path: p, Size: len(in.Content)}, nil
}
