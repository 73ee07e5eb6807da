package applets

import (
	"io/fs"
	"testing"
)

var lsFiles = map[string]string{
	"b.txt":    "hello\n",
	"a.sh":     "#!/bin/sh\n",
	".hidden":  "",
	"dir/":     "",
	"dir/x":    "12345678901234567890",
	"link@":    "b.txt",
	"big":      string(make([]byte, 5000)),
	"dir/sub/": "",
}

var lsModes = map[string]fs.FileMode{"a.sh": 0o755, "dir": 0o750}

func TestLs(t *testing.T) {
	withBoxHooks(t, 0, 0)
	runTable(t, []testCase{
		{name: "plain", args: []string{"ls"}, files: lsFiles, wantOut: "a.sh\nb.txt\nbig\ndir\nlink\n"},
		{name: "-a", args: []string{"ls", "-a"}, files: lsFiles, wantOut: ".\n..\n.hidden\na.sh\nb.txt\nbig\ndir\nlink\n"},
		{name: "-A", args: []string{"ls", "-A"}, files: lsFiles, wantOut: ".hidden\na.sh\nb.txt\nbig\ndir\nlink\n"},
		{name: "-l", args: []string{"ls", "-l"}, files: lsFiles, modes: lsModes, wantOut: "total 20\n" +
			"-rwxr-xr-x 1 root root   10 Mar  5  2024 a.sh\n" +
			"-rw-r--r-- 1 root root    6 Mar  5  2024 b.txt\n" +
			"-rw-r--r-- 1 root root 5000 Mar  5  2024 big\n" +
			"drwxr-x--- 2 root root 4096 Mar  5  2024 dir\n" +
			"lrwxrwxrwx 1 root root    5 Mar  5  2024 link -> b.txt\n"},
		{name: "-lh", args: []string{"ls", "-lh", "big", "b.txt"}, files: lsFiles, wantOut: "-rw-r--r-- 1 root root    6 Mar  5  2024 b.txt\n" +
			"-rw-r--r-- 1 root root 4.9K Mar  5  2024 big\n"},
		{name: "-ln", args: []string{"ls", "-ln", "b.txt"}, files: lsFiles, wantOut: "-rw-r--r-- 1 0 0 6 Mar  5  2024 b.txt\n"},
		{name: "-lo", args: []string{"ls", "-lo", "b.txt"}, files: lsFiles, wantOut: "-rw-r--r-- 1 root 6 Mar  5  2024 b.txt\n"},
		{name: "-d", args: []string{"ls", "-d", "dir"}, files: lsFiles, wantOut: "dir\n"},
		{name: "-ld", args: []string{"ls", "-ld", "dir"}, files: lsFiles, modes: lsModes, wantOut: "drwxr-x--- 2 root root 4096 Mar  5  2024 dir\n"},
		{name: "dir operand", args: []string{"ls", "dir"}, files: lsFiles, wantOut: "sub\nx\n"},
		{name: "files then dirs", args: []string{"ls", "dir", "b.txt", "a.sh"}, files: lsFiles, wantOut: "a.sh\nb.txt\n\ndir:\nsub\nx\n"},
		{name: "-R", args: []string{"ls", "-R", "dir"}, files: lsFiles, wantOut: "dir:\nsub\nx\n\ndir/sub:\n"},
		{name: "-t", args: []string{"ls", "-t"}, files: lsFiles, wantOut: "link\ndir\nbig\nb.txt\na.sh\n"},
		{name: "-tr", args: []string{"ls", "-tr"}, files: lsFiles, wantOut: "a.sh\nb.txt\nbig\ndir\nlink\n"},
		{name: "-S", args: []string{"ls", "-S"}, files: lsFiles, wantOut: "big\ndir\na.sh\nb.txt\nlink\n"},
		{name: "-r", args: []string{"ls", "-r"}, files: lsFiles, wantOut: "link\ndir\nbig\nb.txt\na.sh\n"},
		{name: "-F", args: []string{"ls", "-F"}, files: lsFiles, modes: lsModes, wantOut: "a.sh*\nb.txt\nbig\ndir/\nlink@\n"},
		{name: "-p", args: []string{"ls", "-p"}, files: lsFiles, wantOut: "a.sh\nb.txt\nbig\ndir/\nlink\n"},
		{name: "-1", args: []string{"ls", "-1", "a.sh"}, files: lsFiles, wantOut: "a.sh\n"},
		{name: "-C", args: []string{"ls", "-C"}, files: lsFiles, wantOut: "a.sh  b.txt  big  dir  link\n"},
		{name: "-m", args: []string{"ls", "-m"}, files: lsFiles, wantOut: "a.sh, b.txt, big, dir, link\n"},
		{name: "symlink to dir followed", args: []string{"ls", "dl"}, files: map[string]string{"d/": "", "d/f": "", "dl@": "d"}, wantOut: "f\n"},
		{name: "missing", args: []string{"ls", "nope", "b.txt"}, files: lsFiles, wantOut: "b.txt\n", wantErr: "ls: cannot access 'nope': No such file or directory\n", code: 2},
		{name: "bad option", args: []string{"ls", "-j"}, wantErr: "ls: invalid option -- 'j'\n", code: 2},
		{name: "owner from passwd", args: []string{"ls", "-l", "b.txt"}, files: lsFiles, wantOut: "-rw-r--r-- 1 root root 6 Mar  5  2024 b.txt\n"},
	})
}

func TestLsOwners(t *testing.T) {
	withBoxHooks(t, 1000, 50)
	runTable(t, []testCase{
		{name: "names", args: []string{"ls", "-l", "f"}, files: map[string]string{"f": "x"}, wantOut: "-rw-r--r-- 1 app staff 1 Mar  5  2024 f\n"},
		{name: "numeric", args: []string{"ls", "-n", "f"}, files: map[string]string{"f": "x"}, wantOut: "-rw-r--r-- 1 1000 50 1 Mar  5  2024 f\n"},
	})
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 1023: "1023", 1024: "1.0K", 1536: "1.5K", 10240: "10K", 10239: "10K",
		1048577: "1.1M", 123456789: "118M", 1 << 30: "1.0G"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
