package proc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmbox/wasmbox/shims/abi"
)

type fakeChild struct {
	stdin, stdout, stderr *abi.Pipe
	killed                chan struct{}
	killOnce              sync.Once
	done                  chan struct{}
	status                uint32
}

// fakeHost implements the ABI over fake programs running in goroutines.
type fakeHost struct {
	t        *testing.T
	mu       sync.Mutex
	next     uint32
	children map[uint32]*fakeChild
	requests []spawnRequest
	lastErr  string
	attrs    map[string]Attr
}

func installFake(t *testing.T) *fakeHost {
	h := &fakeHost{t: t, children: map[uint32]*fakeChild{}, attrs: map[string]Attr{}}
	old := sys
	sys = h
	t.Cleanup(func() { sys = old })
	return h
}

// programs are the fake box's executables. Each returns its exit status.
var programs = map[string]func(c *fakeChild) uint32{
	// upper copies stdin to stdout in upper case, says done on stderr.
	"/bin/upper": func(c *fakeChild) uint32 {
		buf := make([]byte, 1000)
		for {
			n, err := c.stdin.Read(buf)
			if n > 0 {
				if _, err := c.stdout.Write(bytes.ToUpper(buf[:n])); err != nil {
					return 1
				}
			}
			if err != nil {
				break
			}
		}
		c.stderr.Write([]byte("done\n"))
		return 3
	},
	// head1 reads one byte and ends.
	"/bin/head1": func(c *fakeChild) uint32 {
		var b [1]byte
		c.stdin.Read(b[:])
		c.stdout.Write(b[:])
		return 0
	},
	// yes writes until its output is closed.
	"/bin/yes": func(c *fakeChild) uint32 {
		for {
			if _, err := c.stdout.Write([]byte("y\n")); err != nil {
				return 1
			}
		}
	},
	// hang runs until killed.
	"/bin/hang": func(c *fakeChild) uint32 {
		<-c.killed
		return 137
	},
}

func (h *fakeHost) spawn(req []byte) (uint32, Errno) {
	var r spawnRequest
	if err := json.Unmarshal(req, &r); err != nil {
		h.t.Errorf("bad spawn request %s: %v", req, err)
		return 0, EINVAL
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, r)
	switch r.Path {
	case "/bin/elf":
		h.lastErr = "/bin/elf: native ELF executable"
		return 0, ENOEXEC
	}
	prog, ok := programs[r.Path]
	if !ok {
		h.lastErr = r.Path + ": no such file"
		return 0, ENOENT
	}
	c := &fakeChild{
		stdin:  abi.NewPipe(4096),
		stdout: abi.NewPipe(4096),
		stderr: abi.NewPipe(4096),
		killed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	if r.Stdio[0] != stdioPipe {
		c.stdin.CloseWrite()
	}
	h.next++
	h.children[h.next] = c
	go func() {
		c.status = prog(c)
		c.stdin.CloseRead()
		c.stdout.CloseWrite()
		c.stderr.CloseWrite()
		close(c.done)
	}()
	return h.next, 0
}

func (h *fakeHost) child(pid uint32) *fakeChild {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.children[pid]
	if c == nil {
		h.t.Errorf("host call with unknown or released pid %d", pid)
	}
	return c
}

func (h *fakeHost) lastError() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

func (h *fakeHost) write(pid uint32, b []byte) (int, Errno) {
	c := h.child(pid)
	if c == nil {
		return 0, EBADF
	}
	return c.stdin.TryWrite(b)
}

func (h *fakeHost) read(pid uint32, stream int32, b []byte) (int, Errno) {
	c := h.child(pid)
	if c == nil {
		return 0, EBADF
	}
	if stream == 2 {
		return c.stderr.TryRead(b)
	}
	return c.stdout.TryRead(b)
}

func (h *fakeHost) close(pid uint32, stream int32) Errno {
	c := h.child(pid)
	if c == nil {
		return EBADF
	}
	switch stream {
	case 0:
		c.stdin.CloseWrite()
	case 1:
		c.stdout.CloseRead()
	case 2:
		c.stderr.CloseRead()
	}
	return 0
}

func (h *fakeHost) wait(pid uint32) (uint32, Errno) {
	c := h.child(pid)
	if c == nil {
		return 0, EBADF
	}
	select {
	case <-c.done:
	default:
		return 0, EAGAIN
	}
	h.mu.Lock()
	delete(h.children, pid)
	h.mu.Unlock()
	return c.status, 0
}

func (h *fakeHost) task(int32) Errno { return 0 }

func (h *fakeHost) ids() (uint32, uint32, Errno) { return 0, 0, ENOSYS }

func (h *fakeHost) kill(pid uint32) Errno {
	c := h.child(pid)
	if c == nil {
		return EBADF
	}
	c.killOnce.Do(func() { close(c.killed) })
	return 0
}

func (h *fakeHost) chmod(path string, mode uint32) Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.attrs[path]
	if !ok {
		return ENOENT
	}
	a.Mode = a.Mode&^0o7777 | mode
	h.attrs[path] = a
	return 0
}

func (h *fakeHost) lchown(path string, uid, gid uint32) Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.attrs[path]
	if !ok {
		return ENOENT
	}
	a.UID, a.GID = uid, gid
	h.attrs[path] = a
	return 0
}

func (h *fakeHost) stat(path string, follow bool, out *[abi.StatSize]byte) Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.attrs[path]
	if !ok {
		return ENOENT
	}
	*out = abi.Stat(a).Encode()
	return 0
}

func TestPipesBothWays(t *testing.T) {
	installFake(t)
	in := strings.Repeat("hello, box\n", 30000) // far more than the pipes hold
	var out, errOut bytes.Buffer
	p, err := Start(context.Background(), &Cmd{
		Path: "/bin/upper", Args: []string{"upper"}, Dir: "/",
		Stdin: strings.NewReader(in), Stdout: &out, Stderr: &errOut,
	})
	if err != nil {
		t.Fatal(err)
	}
	status, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if status != 3 {
		t.Errorf("status = %d, want 3", status)
	}
	if out.String() != strings.ToUpper(in) {
		t.Errorf("stdout: got %d bytes, want %d upper-cased", out.Len(), len(in))
	}
	if errOut.String() != "done\n" {
		t.Errorf("stderr = %q", errOut.String())
	}
	if again, _ := p.Wait(); again != 3 {
		t.Errorf("second Wait = %d", again)
	}
}

func TestStdioRequest(t *testing.T) {
	h := installFake(t)
	tests := []struct {
		name string
		cmd  Cmd
		want [3]int
	}{
		{"own streams are shared", Cmd{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, [3]int{0, 1, 2}},
		{"stderr as stdout", Cmd{Stdout: os.Stderr, Stderr: os.Stderr}, [3]int{-2, 2, 2}},
		{"nil is nothing", Cmd{}, [3]int{-2, -2, -2}},
		{"other values are pipes", Cmd{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &bytes.Buffer{}}, [3]int{-1, -1, -1}},
		{"stdout is not a stdin", Cmd{Stdin: os.Stdout}, [3]int{-1, -2, -2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cmd
			c.Path, c.Args, c.Dir, c.Env = "/bin/head1", []string{"head1"}, "/app", []string{"A=1"}
			p, err := Start(context.Background(), &c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			h.mu.Lock()
			got := h.requests[len(h.requests)-1]
			h.mu.Unlock()
			want := spawnRequest{Path: "/bin/head1", Argv: []string{"head1"}, Env: []string{"A=1"}, Dir: "/app", Stdio: tc.want}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("spawn request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	installFake(t)
	tests := []struct {
		path     string
		sentinel error
		code     int
		msg      string
	}{
		{"/bin/nosuch", ErrNotFound, 127, "/bin/nosuch: no such file"},
		{"/bin/elf", ErrCannotExecute, 126, "/bin/elf: native ELF executable"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			_, err := Start(context.Background(), &Cmd{Path: tc.path})
			var se *StartError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *StartError", err)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.sentinel)
			}
			if se.ExitCode() != tc.code {
				t.Errorf("ExitCode = %d, want %d", se.ExitCode(), tc.code)
			}
			if err.Error() != tc.msg {
				t.Errorf("message = %q, want %q", err.Error(), tc.msg)
			}
		})
	}
	_, err := Start(context.Background(), &Cmd{Path: "/bin/nosuch"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ENOENT does not match fs.ErrNotExist: %v", err)
	}
}

func TestNoHostModule(t *testing.T) {
	if _, ok := sys.(defaultHost); !ok {
		t.Skip("a fake host is installed")
	}
	_, err := Start(context.Background(), &Cmd{Path: "/bin/true"})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Start without a host module: %v, want ErrUnsupported", err)
	}
	if err := Chmod("/x", 0o755); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Chmod without a host module: %v", err)
	}
}

func TestContextKills(t *testing.T) {
	installFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, &Cmd{Path: "/bin/hang", Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(10*time.Millisecond, cancel)
	if status, _ := p.Wait(); status != 137 {
		t.Errorf("status = %d, want 137", status)
	}
	if err := p.Kill(); err != nil {
		t.Errorf("Kill after Wait: %v", err)
	}
}

func TestChildStopsReading(t *testing.T) {
	installFake(t)
	// An endless stdin: the pump must stop at EPIPE and must not touch
	// the pid once released (the fake reports that as an error).
	var out bytes.Buffer
	p, err := Start(context.Background(), &Cmd{Path: "/bin/head1", Stdin: endless{}, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if status, err := p.Wait(); status != 0 || err != nil {
		t.Fatalf("Wait = %d, %v", status, err)
	}
	if out.String() != "x" {
		t.Errorf("stdout = %q", out.String())
	}
	time.Sleep(20 * time.Millisecond) // let the input pump notice
}

type endless struct{}

func (endless) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 'x'
	}
	return len(b), nil
}

func TestReaderGoneEndsChild(t *testing.T) {
	installFake(t)
	pr, pw := io.Pipe()
	p, err := Start(context.Background(), &Cmd{Path: "/bin/yes", Stdout: pw})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(pr, buf); err != nil {
		t.Fatal(err)
	}
	pr.Close() // like `yes | head -c 10`
	status, err := p.Wait()
	if status != 1 || err != nil {
		t.Errorf("Wait = %d, %v; want 1 (broken pipe), no error", status, err)
	}
}

func TestMetadata(t *testing.T) {
	h := installFake(t)
	h.attrs["/bin/tool"] = Attr{Mode: 0o100644, Nlink: 1}
	if err := Chmod("/bin/tool", 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := Lchown("/bin/tool", 1000, -1); err != nil {
		t.Fatal(err)
	}
	a, err := Stat("/bin/tool")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Attr{Mode: 0o104755, UID: 1000, GID: 0, Nlink: 1}, a); diff != "" {
		t.Errorf("Stat (-want +got):\n%s", diff)
	}
	if got, want := a.FileMode(), fs.ModeSetuid|0o755; got != want {
		t.Errorf("FileMode = %v, want %v", got, want)
	}
	if got := PermBits(fs.ModeSetuid | fs.ModeSticky | 0o755); got != 0o5755 {
		t.Errorf("PermBits = %o", got)
	}
	_, err = Lstat("/nosuch")
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) || pe.Op != "lstat" {
		t.Errorf("Lstat of a missing path: %v", err)
	}
}

func TestFileStat(t *testing.T) {
	h := installFake(t)
	dir := t.TempDir()
	f := dir + "/f"
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := FileStat(f)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("without box metadata: mode %v, want the file system's", fi.Mode())
	}
	h.attrs[f] = Attr{Mode: 0o100755, Nlink: 1}
	fi, err = FileStat(f)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o755 || fi.Name() != "f" {
		t.Errorf("with box metadata: %s %v, want f -rwxr-xr-x", fi.Name(), fi.Mode())
	}
}
