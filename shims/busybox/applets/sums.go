package applets

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
)

func init() {
	register("base64", func(ctx context.Context, env *Env, args []string) int {
		return baseN(ctx, env, args, base64.StdEncoding)
	})
	register("base32", func(ctx context.Context, env *Env, args []string) int {
		return baseN(ctx, env, args, base32.StdEncoding)
	})
	sums := map[string]func() hash.Hash{
		"md5sum": md5.New, "sha1sum": sha1.New, "sha224sum": sha256.New224,
		"sha256sum": sha256.New, "sha384sum": sha512.New384, "sha512sum": sha512.New,
	}
	for name, h := range sums {
		register(name, func(ctx context.Context, env *Env, args []string) int {
			return sum(ctx, env, args, h)
		})
	}
}

// baseEncoding is what base64 and base32 share.
type baseEncoding interface {
	EncodedLen(int) int
	Encode(dst, src []byte)
	DecodeString(string) ([]byte, error)
}

func baseN(ctx context.Context, env *Env, args []string, enc baseEncoding) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "diw:", long: map[string]string{
		"decode": "d", "ignore-garbage": "i", "wrap=": "w"}}, args[1:])
	if !ok {
		return code
	}
	if len(files) > 1 {
		return c.fail(1, "extra operand '%s'", files[1])
	}
	name := "-"
	if len(files) == 1 {
		name = files[0]
	}
	rc, err := c.open(name)
	if err != nil {
		return c.fail(1, "%s: %s", name, errText(err))
	}
	defer rc.Close()
	if o.has("d") {
		data, err := io.ReadAll(contextReader{c.ctx, rc})
		if err != nil {
			return c.fail(1, "read error: %s", errText(err))
		}
		alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
		if _, ok := enc.(*base32.Encoding); ok {
			alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567="
		}
		var clean strings.Builder
		bad := false
		for _, b := range data {
			switch {
			case strings.IndexByte(alphabet, b) >= 0:
				clean.WriteByte(b)
			case b == '\n' || b == '\r':
			case o.has("i"):
			default:
				bad = true
			}
		}
		s := clean.String()
		// Decode what is valid, group by group, like GNU.
		out, derr := enc.DecodeString(s)
		if derr != nil {
			bad = true
			quantum := 4
			if _, ok := enc.(*base32.Encoding); ok {
				quantum = 8
			}
			out = nil
			for i := 0; i+quantum <= len(s); i += quantum {
				part, err := enc.DecodeString(s[i : i+quantum])
				if err != nil {
					break
				}
				out = append(out, part...)
			}
		}
		c.out.Write(out)
		if bad {
			return c.fail(1, "invalid input")
		}
		return c.done()
	}
	wrap := 76
	if w, ok := o.val("w"); ok {
		if _, err := fmt.Sscanf(w, "%d", &wrap); err != nil || wrap < 0 {
			return c.fail(1, "invalid wrap size: '%s'", w)
		}
	}
	br := bufio.NewReaderSize(contextReader{c.ctx, rc}, 64<<10)
	col := 0
	chunk := make([]byte, 3*5*1024)
	for !c.broken() {
		n, err := io.ReadFull(br, chunk)
		if n > 0 {
			dst := make([]byte, enc.EncodedLen(n))
			enc.Encode(dst, chunk[:n])
			for len(dst) > 0 {
				if wrap == 0 {
					c.out.Write(dst)
					col += len(dst)
					break
				}
				k := min(wrap-col, len(dst))
				c.out.Write(dst[:k])
				dst = dst[k:]
				col += k
				if col == wrap {
					c.out.WriteByte('\n')
					col = 0
				}
			}
		}
		if err != nil {
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				return c.fail(1, "read error: %s", errText(err))
			}
			break
		}
	}
	if col > 0 && wrap > 0 {
		c.out.WriteByte('\n')
	}
	return c.done()
}

// sumName escapes a file name like GNU's *sum: a leading backslash marks
// names holding a backslash or newline.
func sumName(name string) (string, bool) {
	if !strings.ContainsAny(name, "\\\n") {
		return name, false
	}
	return strings.NewReplacer("\\", "\\\\", "\n", "\\n").Replace(name), true
}

func sum(ctx context.Context, env *Env, args []string, newHash func() hash.Hash) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "bctwz", long: map[string]string{
		"binary": "b", "check": "c", "text": "t", "warn": "w", "zero": "z", "status": "status",
		"quiet": "quiet", "strict": "strict", "tag": "tag", "ignore-missing": "ignore-missing"}}, args[1:])
	if !ok {
		return code
	}
	hashFile := func(name string) (string, error) {
		rc, err := c.open(name)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		h := newHash()
		if _, err := io.Copy(h, contextReader{c.ctx, rc}); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	algo := strings.ToUpper(strings.TrimSuffix(c.name, "sum"))
	if !o.has("c") {
		mark := " "
		if o.has("b") {
			mark = "*"
		}
		for _, name := range files {
			sum, err := hashFile(name)
			if err != nil {
				c.errorf("%s: %s", name, errText(err))
				continue
			}
			shown, esc := sumName(name)
			if esc {
				c.out.WriteString("\\")
			}
			if o.has("tag") {
				c.out.WriteString(algo + " (" + shown + ") = " + sum + "\n")
				continue
			}
			c.out.WriteString(sum + " " + mark + shown + "\n")
		}
		return c.done()
	}
	status, quiet := o.has("status"), o.has("quiet")
	hexLen := 2 * newHash().Size()
	for _, list := range files {
		rc, err := c.open(list)
		if err != nil {
			c.errorf("%s: %s", list, errText(err))
			continue
		}
		failed, unreadable, bad, good := 0, 0, 0, 0
		lr := newLineReader(rc)
		lineNo := 0
		for !c.broken() {
			raw, _, err := lr.next()
			if err != nil {
				break
			}
			lineNo++
			line := strings.TrimSuffix(string(raw), "\r")
			if strings.HasPrefix(line, "#") {
				continue
			}
			escaped := strings.HasPrefix(line, "\\")
			if escaped {
				line = line[1:]
			}
			var want, name string
			if rest, ok := strings.CutPrefix(line, algo+" ("); ok {
				i := strings.LastIndex(rest, ") = ")
				if i >= 0 {
					name, want = rest[:i], rest[i+4:]
				}
			} else if len(line) > hexLen+2 && (line[hexLen+1] == ' ' || line[hexLen+1] == '*') && line[hexLen] == ' ' {
				want, name = line[:hexLen], line[hexLen+2:]
			}
			if escaped {
				name = strings.NewReplacer("\\\\", "\\", "\\n", "\n").Replace(name)
			}
			if len(want) != hexLen || name == "" {
				bad++
				if o.has("w") {
					c.warnf("%s: %d: improperly formatted %s checksum line", list, lineNo, algo)
				}
				continue
			}
			good++
			got, err := hashFile(name)
			if err != nil {
				if o.has("ignore-missing") {
					continue
				}
				unreadable++
				if !status {
					c.warnf("%s: %s", name, errText(err))
					c.out.WriteString(name + ": FAILED open or read\n")
				}
				continue
			}
			if !strings.EqualFold(got, want) {
				failed++
				if !status {
					c.out.WriteString(name + ": FAILED\n")
				}
			} else if !status && !quiet {
				c.out.WriteString(name + ": OK\n")
			}
		}
		rc.Close()
		if good == 0 {
			c.errorf("%s: no properly formatted checksum lines found", list)
			continue
		}
		plural := func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		}
		if !status {
			if bad > 0 {
				c.warnf("WARNING: %d %s improperly formatted", bad, plural(bad, "line is", "lines are"))
			}
			if unreadable > 0 {
				c.warnf("WARNING: %d listed %s could not be read", unreadable, plural(unreadable, "file", "files"))
			}
			if failed > 0 {
				c.warnf("WARNING: %d computed %s did NOT match", failed, plural(failed, "checksum", "checksums"))
			}
		}
		if failed > 0 || unreadable > 0 || (bad > 0 && o.has("strict")) {
			c.status = 1
		}
	}
	return c.done()
}
