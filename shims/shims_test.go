package shims

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/fsimage"
)

func TestLookup(t *testing.T) {
	for image, want := range map[string]Base{
		"alpine": Shell, "alpine:3.20": Shell, "docker.io/library/debian:bookworm-slim": Shell,
		"ubuntu@sha256:0123": Shell, "busybox:latest": Shell, "scratch": Scratch, "localhost:5000/alpine": Shell,
	} {
		if got, _, err := Lookup(image); err != nil || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", image, got, err, want)
		}
	}
	_, _, err := Lookup("node:20")
	if err == nil || !strings.Contains(err.Error(), `"node:20"`) {
		t.Errorf("Lookup(node:20): %v", err)
	}
}

func TestLookupPython(t *testing.T) {
	for image, warn := range map[string]bool{
		"python:3.11-slim": false, "python:3.11": false, "python:3": false, "python:latest": false,
		"python": false, "python:3.11.9-bookworm": false, "python:3.12-alpine": true, "python:3.9": true,
	} {
		b, w, err := Lookup(image)
		if err != nil || b != Python || (w != "") != warn {
			t.Errorf("Lookup(%q) = %q, warning %q, %v; want python, warning %v", image, b, w, err, warn)
		}
	}
}

func fakeShims(t *testing.T, applets string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, BusyboxModule), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, AppletsFile), []byte(applets), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWriteBase(t *testing.T) {
	dir := fakeShims(t, "sh\nls\nbusybox\n")
	var a, b bytes.Buffer
	if ok, err := WriteBase(&a, Shell, dir); !ok || err != nil {
		t.Fatalf("WriteBase: %v %v", ok, err)
	}
	if _, err := WriteBase(&b, Shell, dir); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two writes of the same base differ")
	}
	img, err := fsimage.Open(bytes.NewReader(a.Bytes()), int64(a.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fsimage.Type{"bin/busybox": fsimage.TypeReg, "bin/sh": fsimage.TypeSymlink, "bin/ls": fsimage.TypeSymlink, "tmp": fsimage.TypeDir, "etc/passwd": fsimage.TypeReg} {
		if e, ok := img.Lookup(p); !ok || e.Type != want {
			t.Errorf("%s: %+v %v, want type %v", p, e, ok, want)
		}
	}
	if _, ok := img.Lookup("bin/busybox/busybox"); ok {
		t.Error("busybox linked to itself")
	}
	if ok, err := WriteBase(&bytes.Buffer{}, Scratch, dir); ok || err != nil {
		t.Errorf("scratch: %v %v", ok, err)
	}
}

func TestWriteBaseRejectsBadApplets(t *testing.T) {
	for _, list := range []string{"", "../etc/x\n", "a/b\n"} {
		if _, err := WriteBase(&bytes.Buffer{}, Shell, fakeShims(t, list)); err == nil {
			t.Errorf("applet list %q accepted", list)
		}
	}
	if _, err := WriteBase(&bytes.Buffer{}, Shell, t.TempDir()); err == nil {
		t.Error("a directory without the module was accepted")
	}
}

func TestWritePython(t *testing.T) {
	dir := t.TempDir()
	py := filepath.Join(dir, PythonDir)
	lib := filepath.Join(py, "lib", "python"+PythonVersion, "json")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		filepath.Join(py, "python.wasm"):  "\x00asm\x01\x00\x00\x00",
		filepath.Join(lib, "__init__.py"): "# json\n",
	} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stamp, err := Stamp(Python, dir)
	if err != nil {
		t.Fatalf("Stamp without scripts: %v", err)
	}
	// Scripts such as pip come from bin/.
	if err := os.Mkdir(filepath.Join(py, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(py, "bin", "pip3"), []byte("#!/usr/local/bin/python3.11\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(py, "pip.conf"), []byte("[global]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, _ := Stamp(Python, dir); s == stamp {
		t.Error("a new script keeps the stamp")
	}
	// The CA certificates and OpenSSL's directory come from root/.
	stamp, _ = Stamp(Python, dir)
	certs := filepath.Join(py, "root", "etc", "ssl", "certs")
	ssl := filepath.Join(py, "root", "usr", "lib", "ssl")
	for _, d := range []string{certs, ssl} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(certs, "ca-certificates.crt"), []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/ssl/certs/ca-certificates.crt", filepath.Join(ssl, "cert.pem")); err != nil {
		t.Fatal(err)
	}
	if s, _ := Stamp(Python, dir); s == stamp {
		t.Error("new CA certificates keep the stamp")
	}
	var buf bytes.Buffer
	if ok, err := WriteBase(&buf, Python, dir); !ok || err != nil {
		t.Fatalf("WriteBase: %v %v", ok, err)
	}
	img, err := fsimage.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fsimage.Type{
		"usr/local/bin/python3.11": fsimage.TypeReg, "usr/local/bin/python3": fsimage.TypeSymlink,
		"usr/local/bin/python": fsimage.TypeSymlink, "usr/local/lib/python3.11/json/__init__.py": fsimage.TypeReg,
		"usr/local/bin/pip3": fsimage.TypeReg, "usr/local/pip.conf": fsimage.TypeReg,
		"etc/ssl/certs/ca-certificates.crt": fsimage.TypeReg, "usr/lib/ssl/cert.pem": fsimage.TypeSymlink,
	} {
		if e, ok := img.Lookup(p); !ok || e.Type != want {
			t.Errorf("%s: %+v %v, want type %v", p, e, ok, want)
		}
	}
	for _, p := range []string{"usr/local/bin/python3.11", "usr/local/bin/pip3"} {
		if e, _ := img.Lookup(p); e.Mode != 0o755 {
			t.Errorf("%s mode %v", p, e.Mode)
		}
	}
	if e, _ := img.Lookup("usr/lib/ssl/cert.pem"); e.Linkname != "/etc/ssl/certs/ca-certificates.crt" {
		t.Errorf("usr/lib/ssl/cert.pem leads to %q", e.Linkname)
	}
	if _, ok := img.Lookup("root"); ok {
		t.Error("the package's root/ itself is in the box")
	}
	if got := Python.Layers(); len(got) != 2 || got[0] != Shell {
		t.Errorf("python layers %v", got)
	}
}

func TestStampFollowsInputs(t *testing.T) {
	dir := fakeShims(t, "sh\n")
	a, err := Stamp(Shell, dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := Stamp(Shell, dir); a != b {
		t.Errorf("the same inputs give two stamps: %s, %s", a, b)
	}
	if err := os.WriteFile(filepath.Join(dir, AppletsFile), []byte("sh\nls\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := Stamp(Shell, dir); a == b {
		t.Error("changed applets keep the stamp")
	}
}
