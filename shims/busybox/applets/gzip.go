package applets

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"
)

func init() {
	register("gzip", gzipApplet)
	register("gunzip", func(ctx context.Context, env *Env, args []string) int {
		return gzipApplet(ctx, env, append([]string{args[0], "-d"}, args[1:]...))
	})
	register("zcat", func(ctx context.Context, env *Env, args []string) int {
		return gzipApplet(ctx, env, append([]string{args[0], "-dc"}, args[1:]...))
	})
}

// gzipSuffixes maps compressed suffixes to what decompression leaves.
var gzipSuffixes = [][2]string{{".tgz", ".tar"}, {".taz", ".tar"}, {".gz", ""}, {"-gz", ""}, {".z", ""}, {"-z", ""}, {"_z", ""}}

func gzipApplet(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "cdkfnNqvtlrS:123456789", long: map[string]string{
		"stdout": "c", "to-stdout": "c", "decompress": "d", "uncompress": "d", "keep": "k", "force": "f",
		"no-name": "n", "name": "N", "quiet": "q", "verbose": "v", "test": "t", "list": "l",
		"recursive": "r", "suffix=": "S", "fast": "1", "best": "9"}}, args[1:])
	if !ok {
		return code
	}
	level := gzip.DefaultCompression
	for _, x := range o.list {
		if len(x.key) == 1 && x.key[0] >= '1' && x.key[0] <= '9' {
			level = int(x.key[0] - '0')
		}
	}
	decompress, toStdout, test := o.has("d"), o.has("c"), o.has("t")
	suffix := o.str("S", ".gz")
	noName := o.has("n")
	status := 0
	warn := func(format string, a ...any) {
		if !o.has("q") {
			c.warnf(format, a...)
		}
		status = max(status, 2)
	}
	fail := func(format string, a ...any) {
		c.warnf(format, a...)
		status = 1
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		if c.broken() {
			break
		}
		if name == "-" {
			var err error
			switch {
			case test:
				err = gunzipTo(io.Discard, c.stdin())
			case decompress:
				err = gunzipTo(c.out, c.stdin())
			default:
				err = gzipTo(c.out, c.stdin(), level, "", time.Time{})
			}
			if err != nil && c.outw.err == nil {
				fail("stdin: %s", gzipErrText(err))
			}
			continue
		}
		full := c.abs(name)
		fi, err := Stat(full)
		if err != nil {
			fail("%s: %s", name, errText(err))
			continue
		}
		if fi.IsDir() {
			warn("%s is a directory -- ignored", name)
			continue
		}
		outName := ""
		if decompress || test {
			for _, s := range append([][2]string{{suffix, ""}}, gzipSuffixes...) {
				if s[0] != "" && strings.HasSuffix(name, s[0]) && len(name) > len(s[0]) {
					outName = strings.TrimSuffix(name, s[0]) + s[1]
					break
				}
			}
			if outName == "" && !toStdout && !test {
				warn("%s: unknown suffix -- ignored", name)
				continue
			}
		} else {
			if strings.HasSuffix(name, suffix) && !toStdout {
				if !o.has("q") {
					c.warnf("%s already has %s suffix -- unchanged", name, suffix)
				}
				continue
			}
			outName = name + suffix
		}
		in, err := os.Open(full)
		if err != nil {
			fail("%s: %s", name, errText(err))
			continue
		}
		var w io.Writer = c.out
		var out *os.File
		outFull := c.abs(outName)
		if test {
			w = io.Discard
		} else if !toStdout {
			if _, err := os.Lstat(outFull); err == nil {
				if !o.has("f") {
					warn("%s already exists;\tnot overwritten", outName)
					in.Close()
					continue
				}
				os.Remove(outFull)
			}
			out, err = os.OpenFile(outFull, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				fail("%s: %s", outName, errText(err))
				in.Close()
				continue
			}
			w = out
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		if decompress || test {
			err = gunzipTo(bw, in)
		} else {
			hname, mtime := baseName(name), fi.ModTime()
			if noName {
				hname, mtime = "", time.Time{}
			}
			err = gzipTo(bw, in, level, hname, mtime)
		}
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		in.Close()
		if out != nil {
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			if out != nil {
				os.Remove(outFull)
			}
			if c.outw.err == nil {
				fail("%s: %s", name, gzipErrText(err))
			}
			continue
		}
		if out != nil {
			Chmod(outFull, goMode(unixMode(fi.Mode())))
			os.Chtimes(outFull, fi.ModTime(), fi.ModTime())
			if !o.has("k") {
				os.Remove(full)
			}
			if o.has("v") {
				c.warnf("%s:\treplaced with %s", name, outName)
			}
		} else if test && o.has("v") {
			c.warnf("%s:\t OK", name)
		}
	}
	return c.finish(status)
}

func gzipErrText(err error) string {
	if errors.Is(err, gzip.ErrHeader) {
		return "not in gzip format"
	}
	if errors.Is(err, gzip.ErrChecksum) {
		return "invalid compressed data--crc error"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of file"
	}
	return errText(err)
}

func gzipTo(w io.Writer, r io.Reader, level int, name string, mtime time.Time) error {
	zw, err := gzip.NewWriterLevel(w, level)
	if err != nil {
		return err
	}
	zw.Name = name
	if !mtime.IsZero() {
		zw.ModTime = mtime
	}
	zw.OS = 3 // Unix, as GNU gzip writes
	if _, err := io.Copy(zw, r); err != nil {
		return err
	}
	return zw.Close()
}

func gunzipTo(w io.Writer, r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return gzip.ErrHeader
		}
		return err
	}
	if _, err := io.Copy(w, zr); err != nil {
		return err
	}
	return zr.Close()
}
