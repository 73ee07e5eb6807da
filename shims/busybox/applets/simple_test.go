package applets

import (
	"testing"
)

func TestSimple(t *testing.T) {
	runTable(t, []testCase{
		{name: "true", args: []string{"true", "x"}},
		{name: "false", args: []string{"false"}, code: 1},
		{name: "pwd", args: []string{"pwd"}, wantOut: "$DIR\n"},
		{name: "basename", args: []string{"basename", "a/b/"}, wantOut: "b\n"},
		{name: "basename root", args: []string{"basename", "//"}, wantOut: "/\n"},
		{name: "basename suffix", args: []string{"basename", "a/b.txt", ".txt"}, wantOut: "b\n"},
		{name: "basename whole suffix", args: []string{"basename", ".txt", ".txt"}, wantOut: ".txt\n"},
		{name: "basename -s", args: []string{"basename", "-s", ".c", "a.c", "b.c"}, wantOut: "a\nb\n"},
		{name: "basename -a", args: []string{"basename", "-a", "x/y", "z/w"}, wantOut: "y\nw\n"},
		{name: "basename missing", args: []string{"basename"}, wantErr: "basename: missing operand\n", code: 1},
		{name: "dirname", args: []string{"dirname", "a/b/", "/", "a", "", "/a/b.txt", "//x"}, wantOut: "a\n/\n.\n.\n/a\n/\n"},
		{name: "uname", args: []string{"uname"}, wantOut: "WASI\n"},
		{name: "uname -a", args: []string{"uname", "-a"}, env: []string{"HOSTNAME=box1"}, wantOut: "WASI box1 preview1 wasip1 wasm32 WASI\n"},
		{name: "uname -snrm", args: []string{"uname", "-s", "-nrm"}, wantOut: "WASI wasmbox preview1 wasm32\n"},
		{name: "uname bad", args: []string{"uname", "-q"}, wantErr: "uname: invalid option -- 'q'\n", code: 1},
		{name: "arch", args: []string{"arch"}, wantOut: "wasm32\n"},
		{name: "hostname", args: []string{"hostname"}, wantOut: "wasmbox\n"},
		{name: "hostname -s", args: []string{"hostname", "-s"}, env: []string{"HOSTNAME=a.b.c"}, wantOut: "a\n"},
		{name: "whoami", args: []string{"whoami"}, wantOut: "root\n"},
		{name: "nproc omp", args: []string{"nproc"}, env: []string{"OMP_NUM_THREADS=3"}, wantOut: "3\n"},
		{name: "tty", args: []string{"tty"}, wantOut: "not a tty\n", code: 1},
	})
}

func TestEcho(t *testing.T) {
	runTable(t, []testCase{
		{name: "plain", args: []string{"echo", "a", "b"}, wantOut: "a b\n"},
		{name: "empty", args: []string{"echo"}, wantOut: "\n"},
		{name: "-n", args: []string{"echo", "-n", "x"}, wantOut: "x"},
		{name: "no escapes", args: []string{"echo", `a\tb`}, wantOut: "a\\tb\n"},
		{name: "-e", args: []string{"echo", "-e", `a\tb\x41\0101\c zz`}, wantOut: "a\tbAA"},
		{name: "-ne", args: []string{"echo", "-ne", `\q\"\u00e9`}, wantOut: `\q\"\u00e9`},
		{name: "-- literal", args: []string{"echo", "--", "-n"}, wantOut: "-- -n\n"},
		{name: "-x literal", args: []string{"echo", "-x", "y"}, wantOut: "-x y\n"},
		{name: "-nE", args: []string{"echo", "-nE", `\n`}, wantOut: `\n`},
		{name: "dash", args: []string{"echo", "-"}, wantOut: "-\n"},
	})
}

func TestPrintf(t *testing.T) {
	runTable(t, printfCases)
}

var printfCases = []testCase{
	{name: "string", args: []string{"printf", "%s-%s\n", "a", "b"}, wantOut: "a-b\n"},
	{name: "reuse", args: []string{"printf", "%s %s\n", "a", "b", "c"}, wantOut: "a b\nc \n"},
	{name: "no newline", args: []string{"printf", "x"}, wantOut: "x"},
	{name: "ints", args: []string{"printf", "%5.2d|%05.3d|%-5d|%#x|%#o|%x|%X|%i|%u\n", "3", "4", "5", "0", "8", "-1", "255", "-3", "-3"},
		wantOut: "   03|  004|5    |0|010|ffffffffffffffff|FF|-3|18446744073709551613\n"},
	{name: "zero pad", args: []string{"printf", "%05d|%+d|% d|%-3d|\n", "42", "7", "7", "-1"}, wantOut: "00042|+7| 7|-1 |\n"},
	{name: "octal hex input", args: []string{"printf", "%d %d %d\n", "010", "0x1f", "'A"}, wantOut: "8 31 65\n"},
	{name: "bad number", args: []string{"printf", "x%dy\n", "08"}, wantOut: "x0y\n", wantErr: "printf: '08': value not completely converted\n", code: 1},
	{name: "not a number", args: []string{"printf", "%d\n", "abc"}, wantOut: "0\n", wantErr: "printf: 'abc': expected a numeric value\n", code: 1},
	{name: "range", args: []string{"printf", "%d\n", "99999999999999999999"}, wantOut: "9223372036854775807\n", wantErr: "printf: '99999999999999999999': Numerical result out of range\n", code: 1},
	{name: "floats", args: []string{"printf", "%.2f %5.1f|%-8.3e|%e %g %g %G %f\n", "3.14159", "2.25", "1234", "1234.5", "0.0001", "1e-5", "1e20", "1"},
		wantOut: "3.14   2.2|1.234e+03|1.234500e+03 0.0001 1e-05 1E+20 1.000000\n"},
	{name: "inf", args: []string{"printf", "%f %F\n", "inf", "-inf"}, wantOut: "inf -INF\n"},
	{name: "string width", args: []string{"printf", "%.3s|%5s|%-5s|%5c|\n", "abcdef", "ab", "ab", "x"}, wantOut: "abc|   ab|ab   |    x|\n"},
	{name: "star", args: []string{"printf", "%*d|%-*d|%.*s|\n", "5", "1", "4", "2", "2", "abc"}, wantOut: "    1|2   |ab|\n"},
	{name: "%b", args: []string{"printf", "%b\n", `a\101\0101\"\q`}, wantOut: "aAA\"\\q\n"},
	{name: "%b \\c", args: []string{"printf", "%b%s\n", `x\cy`, "z"}, wantOut: "x"},
	{name: "format escapes", args: []string{"printf", `\101\0101\"\q\t\x41\u00e9\n`}, wantOut: "A\x081\"\\q\tAé\n"},
	{name: "%s keeps escapes", args: []string{"printf", "%s\n", `a\nb`}, wantOut: "a\\nb\n"},
	{name: "percent", args: []string{"printf", "100%%\n"}, wantOut: "100%\n"},
	{name: "missing args", args: []string{"printf", "%d %s|\n", "1"}, wantOut: "1 |\n"},
	{name: "excess", args: []string{"printf", "abc\n", "x", "y"}, wantOut: "abc\n", wantErr: "printf: warning: ignoring excess arguments, starting with 'x'\n"},
	{name: "bad conversion", args: []string{"printf", "a%zb\n"}, wantOut: "a", wantErr: "printf: %zb: invalid conversion specification\n", code: 1},
	{name: "%c empty", args: []string{"printf", "%c"}, wantOut: "\x00"},
	{name: "%q", args: []string{"printf", "%q %q %q\n", "a b", "it's", "ok"}, wantOut: "'a b' \"it's\" ok\n"},
	{name: "missing operand", args: []string{"printf"}, wantErr: "printf: missing operand\n", code: 1},
	{name: "dashdash", args: []string{"printf", "--", "%s\n", "x"}, wantOut: "x\n"},
	{name: "table", args: []string{"printf", "%-6s%3d\n", "ab", "1", "cdef", "22"}, wantOut: "ab      1\ncdef   22\n"},
}
