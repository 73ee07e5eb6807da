package applets

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"
)

// runFuzz runs an applet with a deadline over in-memory stdio; it must not
// panic (or hang) whatever the arguments.
func runFuzz(t *testing.T, dir string, stdin string, args ...string) {
	f, _ := Lookup(args[0])
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &limitWriter{w: &out, n: 1 << 20}, Stderr: &out, Dir: dir}
	f(ctx, env, args)
}

// limitWriter fails once n bytes were written, so a looping script ends.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, errLimit
	}
	return l.w.Write(p)
}

var errLimit = &limitErr{}

type limitErr struct{}

func (*limitErr) Error() string { return "output limit" }

func FuzzSedScript(f *testing.F) {
	for _, tc := range sedCases {
		args := tc.args[1:]
		// Seed with the script (the first operand that is not an option).
		for i := 0; i < len(args); i++ {
			if args[i] == "-e" && i+1 < len(args) {
				f.Add(args[i+1], "a\nb\nc\n")
				break
			}
			if !strings.HasPrefix(args[i], "-") {
				f.Add(args[i], "hello world\nfoo\n\n")
				break
			}
		}
	}
	dir := f.TempDir()
	sedMaxSpace = 1 << 20
	f.Fuzz(func(t *testing.T, script, input string) {
		if strings.ContainsAny(script, "wWrR") {
			// Keep the fuzzer from writing files all over the place.
			script = strings.Map(func(r rune) rune {
				switch r {
				case 'w', 'W', 'r', 'R':
					return 'p'
				}
				return r
			}, script)
		}
		runFuzz(t, dir, input, "sed", "-e", script)
		runFuzz(t, dir, input, "sed", "-n", "-E", "-e", script)
	})
}

func FuzzPrintf(f *testing.F) {
	for _, tc := range printfCases {
		if len(tc.args) > 1 {
			arg := ""
			if len(tc.args) > 2 {
				arg = tc.args[2]
			}
			f.Add(tc.args[1], arg)
		}
	}
	f.Fuzz(func(t *testing.T, format, arg string) {
		runFuzz(t, "/", "", "printf", format, arg, arg)
	})
}

func FuzzRegex(f *testing.F) {
	for _, tc := range grepCases {
		for _, a := range tc.args[1:] {
			if !strings.HasPrefix(a, "-") {
				f.Add(a)
				break
			}
		}
	}
	f.Fuzz(func(t *testing.T, pat string) {
		for _, ere := range []bool{false, true} {
			s, err := translateRE(pat, ere)
			if err != nil {
				continue
			}
			re, err := compileRE(pat, reFlags{ere: ere})
			if err == nil {
				re.MatchString("hello (world) a+b [x]")
			}
			_ = s
		}
		fnmatch(pat, "hello/world.txt", true, false)
	})
}

// fuzzApplets are the applets FuzzArgs drives: none of them changes files.
var fuzzApplets = []string{"test", "[", "expr", "tr", "cut", "sort", "uniq", "seq", "date", "printf",
	"echo", "grep", "head", "tail", "wc", "nl", "fold", "paste", "comm", "base64", "basename", "dirname",
	"sed", "find", "ls", "stat", "cat", "readlink", "realpath", "du", "cmp", "rev", "tac", "sha256sum", "tar", "env"}

func FuzzArgs(f *testing.F) {
	all := [][]testCase{textCases, grepCases, miscCases, printfCases}
	for _, cases := range all {
		for _, tc := range cases {
			for i, name := range fuzzApplets {
				if name == tc.args[0] {
					f.Add(uint8(i), strings.Join(tc.args[1:], "\x00"), tc.stdin)
				}
			}
		}
	}
	dir := f.TempDir()
	setupFiles(&testing.T{}, dir, map[string]string{"a": "hello\nworld\n", "b": "b\na\n", "d/x": "1", "l@": "a"}, nil)
	sedMaxSpace = 1 << 20
	f.Fuzz(func(t *testing.T, which uint8, args, stdin string) {
		name := fuzzApplets[int(which)%len(fuzzApplets)]
		argv := append([]string{name}, strings.Split(args, "\x00")...)
		for _, a := range argv[1:] {
			switch {
			case name == "find" && (strings.HasPrefix(a, "-exec") || strings.HasPrefix(a, "-ok") || a == "-delete" || strings.HasPrefix(a, "-fprint")):
				return
			case name == "sed" && (strings.HasPrefix(a, "-i") || strings.HasPrefix(a, "--in") || strings.ContainsAny(a, "wW")):
				return
			case name == "sort" && (strings.HasPrefix(a, "-o") || strings.HasPrefix(a, "--o")):
				return
			case (name == "uniq" || name == "tar") && len(argv) > 2:
				if name == "tar" && !strings.ContainsAny(args, "cx") {
					break
				}
				return
			case name == "env" && !strings.Contains(a, "=") && !strings.HasPrefix(a, "-"):
				return
			case strings.Contains("du find ls grep tar", name) && (strings.Contains(a, "/") || strings.Contains(a, "..")):
				// Walking the host's whole filesystem is slow, not wrong.
				return
			}
		}
		runFuzz(t, dir, stdin, argv...)
	})
}

// FuzzReadResponse feeds curl's and wget's HTTP client a server's answer:
// never a panic, and a body never longer than what came.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 302 Found\r\nLocation: /x\r\n folded\r\n\r\nbody until the end",
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"garbage\r\n\r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, gzip bool) {
		u, _ := url.Parse("http://h/")
		resp, err := readResponse(bufio.NewReader(bytes.NewReader(data)), &httpRequest{method: "GET", url: u}, gzip)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(io.LimitReader(resp.body, 1<<20))
		if !gzip && len(body) > len(data) {
			t.Fatalf("a body of %d bytes from %d", len(body), len(data))
		}
		resp.location()
	})
}
