package applets

import (
	"bytes"
	"context"
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
