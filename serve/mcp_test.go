package serve

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wasmbox/wasmbox/runtime"
)

// mcpClient connects the Go SDK's client to srv in memory.
func mcpClient(t *testing.T, srv *mcp.Server) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	ct, st := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// call calls tool with args and decodes its structured answer into out.
func call(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any, out any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if out != nil {
		v := reflect.ValueOf(out).Elem()
		v.Set(reflect.Zero(v.Type()))
	}
	if out != nil && !res.IsError {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: structured content %s: %v", tool, b, err)
		}
	}
	return res
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func text(res *mcp.CallToolResult) string {
	var sb strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			sb.WriteString(tc.Text)
		}
	}
	return sb.String()
}

func TestMCPTools(t *testing.T) {
	s := start(t)
	srv, err := s.MCP(context.Background(), "py")
	if err != nil {
		t.Fatal(err)
	}
	cs := mcpClient(t, srv)

	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
		if tl.Name == "run_python_code" {
			schema, _ := json.Marshal(tl.InputSchema)
			for _, want := range []string{`"python_code":{`, `"global_variables":{`, `"required":["python_code"]`} {
				if !strings.Contains(string(schema), want) {
					t.Errorf("run_python_code's input schema %s lacks %s (mcp-run-python's schema)", schema, want)
				}
			}
		}
	}
	if got := strings.Join(names, " "); got != "read_file run_python_code run_shell_command write_file" {
		t.Fatalf("tools: %s", got)
	}

	// The last expression's value, the output, and the globals passed in.
	var py PythonOutput
	res := call(t, cs, "run_python_code", map[string]any{
		"python_code":      "import math\nprint('n is', n)\n{'sqrt': math.sqrt(n), 'names': names}",
		"global_variables": map[string]any{"n": 16, "names": []string{"a", "b"}},
	}, &py)
	if py.Status != StatusOK || py.Stdout != "n is 16\n" || jsonOf(py.ReturnValue) != `{"names":["a","b"],"sqrt":4}` {
		t.Fatalf("run_python_code: %+v (value %s)", py, py.ReturnValue)
	}
	if txt := text(res); !strings.Contains(txt, "<status>success</status>") || !strings.Contains(txt, "<return_value>\n{\"sqrt\": 4.0") {
		t.Errorf("text content: %q", txt)
	}

	// Top-level await, and a value without a JSON form (its repr).
	call(t, cs, "run_python_code", map[string]any{"python_code": "import asyncio\nawait asyncio.sleep(0)\nobject.__name__, {1, 2}"}, &py)
	if py.Status != StatusOK || jsonOf(py.ReturnValue) != `"('object', {1, 2})"` {
		t.Fatalf("await and repr: %+v (value %s)", py, py.ReturnValue)
	}

	// An exception: status error, the traceback names the code's line, not
	// the driver's.
	res = call(t, cs, "run_python_code", map[string]any{"python_code": "x = 1\n1/0"}, &py)
	if py.Status != StatusError || py.ExitCode != 1 || py.ReturnValue != nil ||
		!strings.Contains(py.Stderr, `File "<code>", line 2`) || !strings.Contains(py.Stderr, "ZeroDivisionError") || strings.Contains(py.Stderr, "<string>") {
		t.Fatalf("exception: %+v", py)
	}
	if !strings.Contains(text(res), "<status>run-error</status>") {
		t.Errorf("text content: %q", text(res))
	}
	call(t, cs, "run_python_code", map[string]any{"python_code": "def f(:\n"}, &py)
	if py.Status != StatusError || !strings.Contains(py.Stderr, "SyntaxError") {
		t.Fatalf("syntax error: %+v", py)
	}

	// Files last across the session's calls; variables do not.
	var fo FileOutput
	call(t, cs, "write_file", map[string]any{"path": "data/in.txt", "content": "hello"}, &fo)
	if fo.Path != "/work/data/in.txt" || fo.Size != 5 {
		t.Fatalf("write_file: %+v", fo)
	}
	call(t, cs, "run_python_code", map[string]any{"python_code": "s = open('data/in.txt').read()\nopen('out.txt', 'w').write(s.upper())\n'globals' in dir()"}, &py)
	if py.Status != StatusOK || jsonOf(py.ReturnValue) != "false" {
		t.Fatalf("reading the written file: %+v (value %s)", py, py.ReturnValue)
	}
	call(t, cs, "run_python_code", map[string]any{"python_code": "'s' in globals()"}, &py)
	if jsonOf(py.ReturnValue) != "false" {
		t.Fatalf("a variable outlived its call: %s", py.ReturnValue)
	}
	call(t, cs, "read_file", map[string]any{"path": "/work/out.txt"}, &fo)
	if fo.Content != "HELLO" || fo.Encoding != "" {
		t.Fatalf("read_file: %+v", fo)
	}
	var sh ShellOutput
	call(t, cs, "run_shell_command", map[string]any{"command": "cat out.txt; ls /run/wasmbox-mcp 2>&1; exit 3"}, &sh)
	if sh.Status != StatusError || sh.ExitCode != 3 || !strings.HasPrefix(sh.Stdout, "HELLO") || !strings.Contains(sh.Stdout, "No such file") {
		t.Fatalf("run_shell_command (the driver's result directory must not outlive its run): %+v", sh)
	}

	// A second session does not see the first's files.
	srv2, _ := s.MCP(context.Background(), "py")
	if res := call(t, mcpClient(t, srv2), "read_file", map[string]any{"path": "/work/out.txt"}, nil); !res.IsError {
		t.Fatalf("a new session sees another's file: %s", text(res))
	}
}

// The model cannot widen what the operator granted: paths stay in the
// box, limits are the server's, there is no network.
func TestMCPHostile(t *testing.T) {
	s := start(t, WithLimits(runtime.Limits{Memory: 64 << 20, Processes: 16, Files: 64}), WithTimeout(3*time.Second))
	srv, err := s.MCP(context.Background(), "py")
	if err != nil {
		t.Fatal(err)
	}
	cs := mcpClient(t, srv)
	for _, p := range []string{"../../etc/passwd", "/work/../../x"} {
		if res := call(t, cs, "read_file", map[string]any{"path": p}, nil); !res.IsError || !strings.Contains(text(res), `".." is refused`) {
			t.Errorf("read_file %s: %s", p, text(res))
		}
		if res := call(t, cs, "write_file", map[string]any{"path": p, "content": "x"}, nil); !res.IsError {
			t.Errorf("write_file %s: %s", p, text(res))
		}
	}
	var py PythonOutput
	call(t, cs, "run_python_code", map[string]any{"python_code": "while True: pass"}, &py)
	if py.Status != StatusTimeout {
		t.Errorf("a spinning loop: %+v", py)
	}
	call(t, cs, "run_python_code", map[string]any{"python_code": "b = bytearray(200 << 20)"}, &py)
	if py.Status != StatusOutOfMemory && py.Status != StatusError {
		t.Errorf("a 200 MiB allocation under 64 MiB: %+v", py)
	}
	call(t, cs, "run_python_code", map[string]any{"python_code": "import socket\nsocket.create_connection(('127.0.0.1', 22))"}, &py)
	if py.Status != StatusError {
		t.Errorf("a socket: %+v", py)
	}
	// A bad argument is a tool error the model sees, not a crash.
	if res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "run_python_code", Arguments: map[string]any{"python_code": 3}}); err == nil && !res.IsError {
		t.Errorf("python_code as a number: %s", text(res))
	}
}

// The streamable HTTP handler: one box instance per MCP session.
func TestMCPStreamableHTTP(t *testing.T) {
	s := start(t)
	h, err := s.MCPHandler(context.Background(), "sh")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	defer hs.Close()
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: hs.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var sh ShellOutput
	call(t, cs, "run_shell_command", map[string]any{"command": "echo hi > f; cat f"}, &sh)
	if sh.Status != StatusOK || sh.Stdout != "hi\n" {
		t.Fatalf("run_shell_command over HTTP: %+v", sh)
	}
	if _, err := s.MCPHandler(context.Background(), "no-such-box"); err == nil {
		t.Fatal("an unknown box was accepted")
	}
}

// A real client over streamable HTTP on TCP: the MCP Inspector's CLI (npm;
// make test installs it), with the server's bearer token, and refused
// without it.
func TestMCPInspectorHTTP(t *testing.T) {
	insp := os.Getenv("WASMBOX_MCP_INSPECTOR")
	if _, err := os.Stat(insp); insp == "" || err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the MCP Inspector is not installed ($WASMBOX_MCP_INSPECTOR=%q), and $CI is set", insp)
		}
		t.Skip("no MCP Inspector (make test installs it)")
	}
	l, err := ListenTCP("127.0.0.1:0", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, l, "", WithToken("s3cret"), WithMCP("py"))
	url := "http://" + l.Addr().String() + "/mcp"
	inspect := func(header string, args ...string) (string, error) {
		cmd := exec.Command(insp, append([]string{"--cli", url, "--transport", "http", "--connect-timeout", "120000", "--header", header}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := inspect("Authorization: Bearer s3cret", "--method", "tools/call", "--tool-name", "run_python_code",
		"--tool-arg", "python_code=import json; print(json.dumps({'a': 1})); 6 * 7")
	if err != nil || !strings.Contains(out, `"return_value": 42`) || !strings.Contains(out, `"stdout": "{\"a\": 1}\n"`) {
		t.Fatalf("run_python_code over HTTP: %v\n%s", err, out)
	}
	out, err = inspect("Authorization: Bearer wrong", "--method", "tools/list")
	if err == nil || strings.Contains(out, "run_python_code") {
		t.Fatalf("a wrong token was let in: %v\n%s", err, out)
	}
}
