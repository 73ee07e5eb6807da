package applets

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var opFiles = map[string]string{
	"file":      "hi\n",
	"exe":       "#!/bin/sh\n",
	"d/":        "",
	"d/e/":      "",
	"d/e/f":     "f\n",
	"emp/":      "",
	"lnk@":      "file",
	"dangling@": "nowhere",
}

var opModes = map[string]fs.FileMode{"exe": 0o755, "d/e/f": 0o750}

func TestMkdirRm(t *testing.T) {
	runTable(t, []testCase{
		{name: "mkdir", args: []string{"mkdir", "x", "y"}, after: map[string]string{"x": "<dir>", "y": "<dir>"}},
		{name: "mkdir exists", args: []string{"mkdir", "file"}, files: opFiles, wantErr: "mkdir: cannot create directory 'file': File exists\n", code: 1},
		{name: "mkdir missing parent", args: []string{"mkdir", "a/b"}, wantErr: "mkdir: cannot create directory 'a/b': No such file or directory\n", code: 1},
		{name: "mkdir -p", args: []string{"mkdir", "-p", "a/b/c", "d/e"}, files: opFiles, after: map[string]string{"a/b/c": "<dir>"}},
		{name: "mkdir -pv", args: []string{"mkdir", "-pv", "a/b"}, wantOut: "mkdir: created directory 'a'\nmkdir: created directory 'a/b'\n"},
		{name: "mkdir -p through file", args: []string{"mkdir", "-p", "file/sub"}, files: opFiles, wantErr: "mkdir: cannot create directory 'file': Not a directory\n", code: 1},
		{name: "mkdir -m", args: []string{"mkdir", "-m", "700", "x"}, modesAfter: map[string]fs.FileMode{"x": 0o700}},
		{name: "mkdir -m symbolic", args: []string{"mkdir", "-m", "u=rwx,g=rx,o=", "x"}, modesAfter: map[string]fs.FileMode{"x": 0o750}},
		{name: "mkdir -pm", args: []string{"mkdir", "-pm", "711", "a/b"}, modesAfter: map[string]fs.FileMode{"a": 0o755, "a/b": 0o711}},
		{name: "mkdir bad mode", args: []string{"mkdir", "-m", "bad", "x"}, wantErr: "mkdir: invalid mode 'bad'\n", code: 1},
		{name: "mkdir none", args: []string{"mkdir"}, wantErr: "mkdir: missing operand\n", code: 1},
		{name: "rmdir", args: []string{"rmdir", "emp"}, files: opFiles, after: map[string]string{"emp": "<absent>"}},
		{name: "rmdir not empty", args: []string{"rmdir", "d"}, files: opFiles, wantErr: "rmdir: failed to remove 'd': Directory not empty\n", code: 1},
		{name: "rmdir -p", args: []string{"rmdir", "-p", "a/b/c"}, files: map[string]string{"a/b/c/": ""}, after: map[string]string{"a": "<absent>"}},
		{name: "rmdir file", args: []string{"rmdir", "file"}, files: opFiles, wantErr: "rmdir: failed to remove 'file': Not a directory\n", code: 1},
		{name: "rm", args: []string{"rm", "file", "lnk"}, files: opFiles, after: map[string]string{"file": "<absent>", "lnk": "<absent>", "exe": "#!/bin/sh\n"}},
		{name: "rm missing", args: []string{"rm", "nope"}, wantErr: "rm: cannot remove 'nope': No such file or directory\n", code: 1},
		{name: "rm -f missing", args: []string{"rm", "-f", "nope"}},
		{name: "rm -f nothing", args: []string{"rm", "-f"}},
		{name: "rm nothing", args: []string{"rm"}, wantErr: "rm: missing operand\n", code: 1},
		{name: "rm dir", args: []string{"rm", "d"}, files: opFiles, wantErr: "rm: cannot remove 'd': Is a directory\n", code: 1},
		{name: "rm -r", args: []string{"rm", "-r", "d"}, files: opFiles, after: map[string]string{"d": "<absent>"}},
		{name: "rm -rf", args: []string{"rm", "-rf", "d", "nope"}, files: opFiles, after: map[string]string{"d": "<absent>"}},
		{name: "rm -rv", args: []string{"rm", "-rv", "d"}, files: opFiles, wantOut: "removed 'd/e/f'\nremoved directory 'd/e'\nremoved directory 'd'\n"},
		{name: "rm -d", args: []string{"rm", "-d", "emp"}, files: opFiles, after: map[string]string{"emp": "<absent>"}},
		{name: "rm dot", args: []string{"rm", "-r", "."}, wantErr: "rm: refusing to remove '.' or '..' directory: skipping '.'\n", code: 1},
		{name: "rm root", args: []string{"rm", "-rf", "/"}, wantErr: "rm: it is dangerous to operate recursively on '/'\nrm: use --no-preserve-root to override this failsafe\n", code: 1},
		{name: "unlink", args: []string{"unlink", "file"}, files: opFiles, after: map[string]string{"file": "<absent>"}},
	})
}

func TestCpMv(t *testing.T) {
	runTable(t, []testCase{
		{name: "cp", args: []string{"cp", "file", "f2"}, files: opFiles, after: map[string]string{"f2": "hi\n"}},
		{name: "cp keeps exec bits", args: []string{"cp", "exe", "e2"}, files: opFiles, modes: opModes, modesAfter: map[string]fs.FileMode{"e2": 0o755}},
		{name: "cp into dir", args: []string{"cp", "file", "exe", "d"}, files: opFiles, after: map[string]string{"d/file": "hi\n", "d/exe": "#!/bin/sh\n"}},
		{name: "cp into dir slash", args: []string{"cp", "file", "d/"}, files: opFiles, after: map[string]string{"d/file": "hi\n"}},
		{name: "cp many to file", args: []string{"cp", "file", "exe", "file2"}, files: opFiles, wantErr: "cp: target 'file2': No such file or directory\n", code: 1},
		{name: "cp dir without -r", args: []string{"cp", "d", "d2"}, files: opFiles, wantErr: "cp: -r not specified; omitting directory 'd'\n", code: 1},
		{name: "cp -r", args: []string{"cp", "-r", "d", "d2"}, files: opFiles, modes: opModes, after: map[string]string{"d2/e/f": "f\n"}, modesAfter: map[string]fs.FileMode{"d2/e/f": 0o750}},
		{name: "cp -r into existing", args: []string{"cp", "-r", "d", "emp"}, files: opFiles, after: map[string]string{"emp/d/e/f": "f\n"}},
		{name: "cp -r contents", args: []string{"cp", "-r", "d/.", "emp"}, files: opFiles, after: map[string]string{"emp/e/f": "f\n"}},
		{name: "cp -R symlink kept", args: []string{"cp", "-R", "lnk", "l2"}, files: opFiles, after: map[string]string{"l2": "-> file"}},
		{name: "cp follows symlink", args: []string{"cp", "lnk", "l2"}, files: opFiles, after: map[string]string{"l2": "hi\n"}},
		{name: "cp -a", args: []string{"cp", "-a", "d", "d2"}, files: opFiles, modes: opModes, after: map[string]string{"d2/e/f": "f\n"}, modesAfter: map[string]fs.FileMode{"d2/e/f": 0o750}},
		{name: "cp same", args: []string{"cp", "file", "./file"}, files: opFiles, wantErr: "cp: 'file' and './file' are the same file\n", code: 1},
		{name: "cp -n", args: []string{"cp", "-n", "file", "exe"}, files: opFiles, after: map[string]string{"exe": "#!/bin/sh\n"}},
		{name: "cp overwrite", args: []string{"cp", "file", "exe"}, files: opFiles, modes: opModes, after: map[string]string{"exe": "hi\n"}, modesAfter: map[string]fs.FileMode{"exe": 0o755}},
		{name: "cp into itself", args: []string{"cp", "-r", "d", "d/sub"}, files: opFiles, wantErr: "cp: cannot copy a directory, 'd', into itself, 'd/sub'\n", code: 1},
		{name: "cp -v", args: []string{"cp", "-v", "file", "f2"}, files: opFiles, wantOut: "'file' -> 'f2'\n"},
		{name: "cp missing", args: []string{"cp", "nope", "x"}, wantErr: "cp: cannot stat 'nope': No such file or directory\n", code: 1},
		{name: "cp no dest", args: []string{"cp", "file"}, wantErr: "cp: missing destination file operand after 'file'\n", code: 1},
		{name: "cp -t", args: []string{"cp", "-t", "d", "file"}, files: opFiles, after: map[string]string{"d/file": "hi\n"}},
		{name: "mv", args: []string{"mv", "file", "f2"}, files: opFiles, after: map[string]string{"file": "<absent>", "f2": "hi\n"}},
		{name: "mv into dir", args: []string{"mv", "file", "exe", "d"}, files: opFiles, after: map[string]string{"d/file": "hi\n", "exe": "<absent>"}},
		{name: "mv dir", args: []string{"mv", "d", "d2"}, files: opFiles, after: map[string]string{"d2/e/f": "f\n", "d": "<absent>"}},
		{name: "mv onto empty dir", args: []string{"mv", "-T", "d", "emp"}, files: opFiles, after: map[string]string{"emp/e/f": "f\n"}},
		{name: "mv same", args: []string{"mv", "file", "file"}, files: opFiles, wantErr: "mv: 'file' and 'file' are the same file\n", code: 1},
		{name: "mv into itself", args: []string{"mv", "d", "d/e"}, files: opFiles, wantErr: "mv: cannot move 'd' to a subdirectory of itself, 'd/e/d'\n", code: 1},
		{name: "mv -n", args: []string{"mv", "-n", "file", "exe"}, files: opFiles, after: map[string]string{"file": "hi\n"}},
		{name: "mv missing", args: []string{"mv", "nope", "x"}, wantErr: "mv: cannot stat 'nope': No such file or directory\n", code: 1},
		{name: "mv symlink", args: []string{"mv", "lnk", "l2"}, files: opFiles, after: map[string]string{"l2": "-> file"}},
	})
}

func TestLnTouch(t *testing.T) {
	runTable(t, []testCase{
		{name: "ln -s", args: []string{"ln", "-s", "file", "sl"}, files: opFiles, after: map[string]string{"sl": "-> file"}},
		{name: "ln -s exists", args: []string{"ln", "-s", "file", "lnk"}, files: opFiles, wantErr: "ln: failed to create symbolic link 'lnk': File exists\n", code: 1},
		{name: "ln -sf", args: []string{"ln", "-sf", "exe", "lnk"}, files: opFiles, after: map[string]string{"lnk": "-> exe"}},
		{name: "ln -s into dir", args: []string{"ln", "-s", "/x/y", "d"}, files: opFiles, after: map[string]string{"d/y": "-> /x/y"}},
		{name: "ln -sfn", args: []string{"ln", "-sfn", "emp", "dl"}, files: map[string]string{"emp/": "", "d/": "", "dl@": "d"}, after: map[string]string{"dl": "-> emp"}},
		{name: "ln -sf into linked dir", args: []string{"ln", "-sf", "emp", "dl"}, files: map[string]string{"emp/": "", "d/": "", "dl@": "d"}, after: map[string]string{"d/emp": "-> emp"}},
		{name: "ln hard", args: []string{"ln", "file", "hl"}, files: opFiles, after: map[string]string{"hl": "hi\n"}},
		{name: "ln hard missing", args: []string{"ln", "nope", "hl"}, wantErr: "ln: failed to access 'nope': No such file or directory\n", code: 1},
		{name: "ln -sv", args: []string{"ln", "-sv", "file", "sl"}, files: opFiles, wantOut: "'sl' -> 'file'\n"},
		{name: "ln -sr", args: []string{"ln", "-sr", "d/e/f", "rl"}, files: opFiles, after: map[string]string{"rl": "-> d/e/f"}},
		{name: "ln one operand", args: []string{"ln", "-s", "/a/b"}, after: map[string]string{"b": "-> /a/b"}},
		{name: "touch creates", args: []string{"touch", "new"}, after: map[string]string{"new": ""}},
		{name: "touch -c", args: []string{"touch", "-c", "new"}, after: map[string]string{"new": "<absent>"}},
		{name: "touch missing dir", args: []string{"touch", "a/b"}, wantErr: "touch: cannot touch 'a/b': No such file or directory\n", code: 1},
		{name: "touch bad -t", args: []string{"touch", "-t", "bad", "x"}, wantErr: "touch: invalid date format 'bad'\n", code: 1},
		{name: "touch none", args: []string{"touch"}, wantErr: "touch: missing file operand\n", code: 1},
	})
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want time.Time
	}{
		{[]string{"touch", "-d", "2020-01-02 03:04:05", "f"}, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)},
		{[]string{"touch", "-t", "202001020304.05", "f"}, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)},
		{[]string{"touch", "-d", "@1700000000", "f"}, time.Unix(1700000000, 0)},
	} {
		if _, errs, code := run(t, dir, "", nil, tc.args...); code != 0 {
			t.Fatalf("%q: %d %s", tc.args, code, errs)
		}
		fi, _ := os.Stat(filepath.Join(dir, "f"))
		if !fi.ModTime().Equal(tc.want) {
			t.Errorf("%q: mtime %v, want %v", tc.args, fi.ModTime(), tc.want)
		}
	}
	os.WriteFile(filepath.Join(dir, "ref"), nil, 0o644)
	ref := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(filepath.Join(dir, "ref"), ref, ref)
	run(t, dir, "", nil, "touch", "-r", "ref", "f")
	if fi, _ := os.Stat(filepath.Join(dir, "f")); !fi.ModTime().Equal(ref) {
		t.Errorf("touch -r: mtime %v, want %v", fi.ModTime(), ref)
	}
}

func TestChmod(t *testing.T) {
	runTable(t, []testCase{
		{name: "octal", args: []string{"chmod", "600", "file"}, files: opFiles, modesAfter: map[string]fs.FileMode{"file": 0o600}},
		{name: "+x", args: []string{"chmod", "+x", "file"}, files: opFiles, modesAfter: map[string]fs.FileMode{"file": 0o755}},
		{name: "-x operand", args: []string{"chmod", "-x", "exe"}, files: opFiles, modes: opModes, modesAfter: map[string]fs.FileMode{"exe": 0o644}},
		{name: "u+x,go-w", args: []string{"chmod", "u+x,go-w", "file"}, files: opFiles, modesAfter: map[string]fs.FileMode{"file": 0o744}},
		{name: "a=r", args: []string{"chmod", "a=r", "file"}, files: opFiles, modesAfter: map[string]fs.FileMode{"file": 0o444}},
		{name: "g=u", args: []string{"chmod", "g=u", "file"}, files: opFiles, modesAfter: map[string]fs.FileMode{"file": 0o664}},
		{name: "-w masked by umask", args: []string{"chmod", "-w", "file"}, files: opFiles, modesAfter: map[string]fs.FileMode{"file": 0o444}},
		{name: "special bits", args: []string{"chmod", "u+s,g+s,+t", "file"}, files: opFiles, modesAfter: map[string]fs.FileMode{"file": 0o644 | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky}},
		{name: "4755", args: []string{"chmod", "4755", "file"}, files: opFiles, modesAfter: map[string]fs.FileMode{"file": 0o755 | fs.ModeSetuid}},
		{name: "-R", args: []string{"chmod", "-R", "go-rwx", "d"}, files: opFiles, modesAfter: map[string]fs.FileMode{"d": 0o700, "d/e": 0o700, "d/e/f": 0o600}},
		{name: "X", args: []string{"chmod", "o+X", "d", "exe", "file"}, files: opFiles, modes: map[string]fs.FileMode{"d": 0o750, "exe": 0o750}, modesAfter: map[string]fs.FileMode{"d": 0o751, "exe": 0o751, "file": 0o644}},
		{name: "-v", args: []string{"chmod", "-v", "600", "file"}, files: opFiles, wantOut: "mode of 'file' changed from 0644 (rw-r--r--) to 0600 (rw-------)\n"},
		{name: "-c unchanged", args: []string{"chmod", "-c", "644", "file"}, files: opFiles},
		{name: "bad mode", args: []string{"chmod", "bad", "file"}, files: opFiles, wantErr: "chmod: invalid mode: 'bad'\n", code: 1},
		{name: "missing file", args: []string{"chmod", "644", "nope"}, wantErr: "chmod: cannot access 'nope': No such file or directory\n", code: 1},
		{name: "missing operand", args: []string{"chmod", "644"}, wantErr: "chmod: missing operand after '644'\n", code: 1},
		{name: "reference", args: []string{"chmod", "--reference=exe", "file"}, files: opFiles, modes: opModes, modesAfter: map[string]fs.FileMode{"file": 0o755}},
	})
}

// recordHooks replaces Chmod and Lchown with recorders (relative to dir).
func recordHooks(t *testing.T, dir string) *[]string {
	var calls []string
	oldC, oldL := Chmod, Lchown
	Chmod = func(name string, m fs.FileMode) error {
		rel, _ := filepath.Rel(dir, name)
		calls = append(calls, fmt.Sprintf("chmod %s %04o", rel, unixMode(m)))
		return oldC(name, m)
	}
	Lchown = func(name string, uid, gid int) error {
		rel, _ := filepath.Rel(dir, name)
		calls = append(calls, fmt.Sprintf("lchown %s %d %d", rel, uid, gid))
		return nil
	}
	t.Cleanup(func() { Chmod, Lchown = oldC, oldL })
	return &calls
}

func TestHooksUsed(t *testing.T) {
	withBoxHooks(t, 1000, 50)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"chown", "app:root", "file"}, "lchown file 1000 0"},
		{[]string{"chown", "root", "file"}, "lchown file 0 -1"},
		{[]string{"chown", "app:", "file"}, "lchown file 1000 1000"},
		{[]string{"chown", ":staff", "file"}, "lchown file -1 50"},
		{[]string{"chgrp", "staff", "file"}, "lchown file -1 50"},
		{[]string{"chown", "-h", "0:0", "lnk"}, "lchown lnk 0 0"},
		{[]string{"chown", "0:0", "lnk"}, "lchown file 0 0"},
		{[]string{"chown", "-R", "app", "d"}, "lchown d 1000 -1|lchown d/e 1000 -1|lchown d/e/f 1000 -1"},
		{[]string{"chmod", "755", "file"}, "chmod file 0755"},
		{[]string{"cp", "-p", "file", "f2"}, "lchown f2 1000 50|chmod f2 0644"},
		{[]string{"cp", "file", "f2"}, "chmod f2 0644"},
		{[]string{"install", "-m", "640", "-o", "app", "-g", "staff", "file", "f2"}, "chmod f2 0640|lchown f2 1000 50"},
		{[]string{"install", "-d", "x/y"}, "chmod x/y 0755"},
		{[]string{"mkdir", "-m", "1777", "x"}, "chmod x 1777"},
	} {
		dir := t.TempDir()
		setupFiles(t, dir, opFiles, nil)
		calls := recordHooks(t, dir)
		_, errs, code := run(t, dir, "", nil, tc.args...)
		if code != 0 {
			t.Errorf("%q: status %d: %s", tc.args, code, errs)
		}
		if got := strings.Join(*calls, "|"); got != tc.want {
			t.Errorf("%q: hooks called %q, want %q", tc.args, got, tc.want)
		}
	}
	dir := t.TempDir()
	setupFiles(t, dir, opFiles, nil)
	recordHooks(t, dir)
	_, errs, code := run(t, dir, "", nil, "chown", "nobody", "file")
	if code != 1 || errs != "chown: invalid user: 'nobody'\n" {
		t.Errorf("chown nobody: %d %q", code, errs)
	}
}
