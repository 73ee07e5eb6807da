package main

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdRegistry starts an in-memory registry on 127.0.0.1 for the rest of
// the script and sets $REGISTRY to its host:port.
func cmdMemRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: registry")
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	ts.Defer(srv.Close)
	ts.Setenv("REGISTRY", strings.TrimPrefix(srv.URL, "http://"))
}

// cmdForeignImage makes a linux/amd64 image whose layers are the script's
// directories DIR..., bottom first, and pushes it to REF, or writes it as
// a docker-archive with -o FILE. In a directory, a file NAME@link holds
// the target of the symbolic link NAME, a file NAME@elf is a native
// program NAME (its contents after an ELF magic); .wh.* files are whiteouts as
// they are; a file env holds the image's Env, one per line.
//
//	foreign-image [-o FILE] REF DIR...
func cmdForeignImage(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("foreign-image does not fail")
	}
	out := ""
	if len(args) > 1 && args[0] == "-o" {
		out, args = ts.MkAbs(args[1]), args[2:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: foreign-image [-o FILE] REF DIR...")
	}
	img := empty.Image
	var env []string
	for _, d := range args[1:] {
		root := ts.MkAbs(d)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			rel := filepath.ToSlash(p[len(root)+1:])
			data, _ := os.ReadFile(p)
			h := &tar.Header{Name: rel, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(data))}
			switch {
			case de.IsDir():
				h.Name, h.Typeflag, h.Mode, h.Size = rel+"/", tar.TypeDir, 0o755, 0
			case rel == "env":
				env = append(env, strings.Split(strings.TrimSpace(string(data)), "\n")...)
				return nil
			case strings.HasSuffix(rel, "@elf"):
				data = append([]byte("\x7fELF"), data...)
				h.Name, h.Mode, h.Size = strings.TrimSuffix(rel, "@elf"), 0o755, int64(len(data))
			case strings.HasSuffix(rel, "@link"):
				h.Name, h.Typeflag, h.Linkname, h.Size = strings.TrimSuffix(rel, "@link"), tar.TypeSymlink, strings.TrimSpace(string(data)), 0
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if h.Size > 0 {
				_, err = tw.Write(data)
			}
			return err
		})
		if err == nil {
			err = tw.Close()
		}
		ts.Check(err)
		data := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		ts.Check(err)
		img, err = mutate.AppendLayers(img, layer)
		ts.Check(err)
	}
	cf, err := img.ConfigFile()
	ts.Check(err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", "amd64", v1.Config{Env: env, Cmd: []string{"/bin/sh"}}
	img, err = mutate.ConfigFile(img, cf)
	ts.Check(err)
	if out != "" {
		tag, err := name.NewTag(args[0])
		ts.Check(err)
		ts.Check(tarball.WriteToFile(out, tag, img))
		return
	}
	ref, err := name.ParseReference(args[0])
	ts.Check(err)
	ts.Check(remote.Write(ref, img))
}
