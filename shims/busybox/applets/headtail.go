package applets

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func init() {
	register("head", head)
	register("tail", tail)
}

// parseCount parses a count with GNU's suffixes: b 512, K/k 1024, KB
// 1000, M 1024^2, MB, G, ... (and KiB, MiB, ...).
func parseCount(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("invalid number")
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, err
	}
	mult := int64(1)
	suf := s[i:]
	if suf != "" {
		if suf == "b" {
			mult = 512
		} else {
			k := strings.IndexByte("KMGTPE", strings.ToUpper(suf[:1])[0])
			if k < 0 {
				return 0, errors.New("invalid suffix")
			}
			base := int64(1024)
			switch suf[1:] {
			case "", "iB":
			case "B":
				base = 1000
			default:
				return 0, errors.New("invalid suffix")
			}
			for ; k >= 0; k-- {
				mult *= base
			}
		}
	}
	return n * mult, nil
}

var obsoleteCount = regexp.MustCompile(`^[-+]([0-9]*)([bcklmn]?)(f?)$`)

// obsoleteArgs turns "head -5", "tail +3", "tail -3c" into -n/-c forms.
func obsoleteArgs(args []string, plus bool) []string {
	if len(args) < 2 {
		return args
	}
	a := args[1]
	if a == "" || (a[0] == '+' && !plus) || a == "-" || a == "+" {
		return args
	}
	m := obsoleteCount.FindStringSubmatch(a)
	if m == nil || (m[1] == "" && a[0] == '-') {
		return args
	}
	num := m[1]
	if num == "" {
		num = "10"
	}
	if a[0] == '+' {
		num = "+" + num
	}
	opt := "-n"
	switch m[2] {
	case "c":
		opt = "-c"
	case "b":
		opt, num = "-c", num+"b"
	case "k":
		opt, num = "-c", num+"K"
	case "m":
		opt, num = "-c", num+"M"
	}
	r := []string{args[0], opt, num}
	if m[3] != "" {
		r = append(r, "-f")
	}
	return append(r, args[2:]...)
}

// headerFiles prints "==> name <==" headers around each input when asked.
func headerName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

func head(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	args = obsoleteArgs(args, false)
	o, files, code, ok := c.parseOpts(&optSpec{short: "n:c:qvz", long: map[string]string{
		"lines=": "n", "bytes=": "c", "quiet": "q", "silent": "q", "verbose": "v", "zero-terminated": "z"}}, args[1:])
	if !ok {
		return code
	}
	bytesMode := o.last("n", "c") == "c"
	spec := o.str("n", "10")
	if bytesMode {
		spec, _ = o.val("c")
	}
	allBut := strings.HasPrefix(spec, "-")
	n, err := parseCount(strings.TrimPrefix(strings.TrimPrefix(spec, "-"), "+"))
	if err != nil {
		what := "lines"
		if bytesMode {
			what = "bytes"
		}
		return c.fail(1, "invalid number of %s: '%s'", what, spec)
	}
	sep := byte('\n')
	if o.has("z") {
		sep = 0
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	headers := (len(files) > 1 || o.has("v")) && !o.has("q")
	first := true
	c.eachInput(files, func(name string, r io.Reader) error {
		if headers {
			if !first {
				c.out.WriteString("\n")
			}
			c.out.WriteString("==> " + headerName(name) + " <==\n")
		}
		first = false
		switch {
		case bytesMode && !allBut:
			_, err := io.CopyN(c.out, r, n)
			if err == io.EOF {
				err = nil
			}
			return err
		case bytesMode:
			data, err := io.ReadAll(r)
			if int64(len(data)) > n {
				c.out.Write(data[:int64(len(data))-n])
			}
			return err
		case !allBut:
			// Like GNU head, leave a seekable input just after the
			// lines taken ("{ head -n1; cat; } < file").
			start := int64(-1)
			seeker, _ := r.(io.Seeker)
			if seeker != nil {
				if off, err := seeker.Seek(0, io.SeekCurrent); err == nil {
					start = off
				}
			}
			lr := newLineReader(r)
			lr.sep = sep
			var used int64
			defer func() {
				if start >= 0 {
					seeker.Seek(start+used, io.SeekStart)
				}
			}()
			for i := int64(0); i < n && !c.broken(); i++ {
				line, nl, err := lr.next()
				if err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
				c.out.Write(line)
				used += int64(len(line))
				if nl {
					c.out.WriteByte(sep)
					used++
				}
			}
			return nil
		default:
			// All but the last n lines: keep a window of n lines.
			lr := newLineReader(r)
			lr.sep = sep
			var window [][]byte
			for !c.broken() {
				line, nl, err := lr.next()
				if err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
				l := append([]byte(nil), line...)
				if nl {
					l = append(l, sep)
				}
				window = append(window, l)
				if int64(len(window)) > n {
					c.out.Write(window[0])
					window[0] = nil
					window = window[1:]
				}
			}
			return nil
		}
	})
	return c.done()
}

func tail(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	args = obsoleteArgs(args, true)
	o, files, code, ok := c.parseOpts(&optSpec{short: "n:c:qvzfFs:", long: map[string]string{
		"lines=": "n", "bytes=": "c", "quiet": "q", "silent": "q", "verbose": "v",
		"zero-terminated": "z", "follow?": "f", "retry": "retry", "sleep-interval=": "s", "pid=": "pid"}}, args[1:])
	if !ok {
		return code
	}
	bytesMode := o.last("n", "c") == "c"
	spec := o.str("n", "10")
	if bytesMode {
		spec, _ = o.val("c")
	}
	fromStart := strings.HasPrefix(spec, "+")
	n, err := parseCount(strings.TrimPrefix(strings.TrimPrefix(spec, "-"), "+"))
	if err != nil {
		what := "lines"
		if bytesMode {
			what = "bytes"
		}
		return c.fail(1, "invalid number of %s: '%s'", what, spec)
	}
	sep := byte('\n')
	if o.has("z") {
		sep = 0
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	headers := (len(files) > 1 || o.has("v")) && !o.has("q")
	first := true
	c.eachInput(files, func(name string, r io.Reader) error {
		if headers {
			if !first {
				c.out.WriteString("\n")
			}
			c.out.WriteString("==> " + headerName(name) + " <==\n")
		}
		first = false
		data, err := io.ReadAll(contextReader{c.ctx, r})
		if err != nil {
			return err
		}
		c.out.Write(tailOf(data, n, fromStart, bytesMode, sep))
		return nil
	})
	if o.has("f") || o.has("F") {
		return c.follow(files, o)
	}
	return c.done()
}

// tailOf selects the end of data: the last n lines/bytes, or from line /
// byte n on.
func tailOf(data []byte, n int64, fromStart, bytesMode bool, sep byte) []byte {
	if bytesMode {
		if fromStart {
			if n > 0 {
				n--
			}
			if n > int64(len(data)) {
				return nil
			}
			return data[n:]
		}
		if n > int64(len(data)) {
			return data
		}
		return data[int64(len(data))-n:]
	}
	if fromStart {
		pos := 0
		for i := int64(1); i < n; i++ {
			k := bytes.IndexByte(data[pos:], sep)
			if k < 0 {
				return nil
			}
			pos += k + 1
		}
		return data[pos:]
	}
	if n == 0 {
		return nil
	}
	end := len(data)
	if end > 0 && data[end-1] == sep {
		end--
	}
	pos := end
	for i := int64(0); i < n; i++ {
		k := bytes.LastIndexByte(data[:pos], sep)
		if k < 0 {
			return data
		}
		pos = k
		if i == n-1 {
			return data[k+1:]
		}
	}
	return data
}

// follow implements tail -f: poll the named files for growth until the
// context ends. Pipes and stdin are not followed.
func (c *cmd) follow(files []string, o *opts) int {
	interval := time.Second
	if s, ok := o.val("s"); ok {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 {
			interval = time.Duration(f * float64(time.Second))
		}
	}
	type state struct {
		name string
		off  int64
	}
	var watched []*state
	for _, name := range files {
		if name == "-" {
			continue
		}
		fi, err := os.Stat(c.abs(name))
		if err != nil {
			if !o.has("F") && !o.has("retry") {
				continue
			}
			watched = append(watched, &state{name: name})
			continue
		}
		if fi.Mode().IsRegular() {
			watched = append(watched, &state{name: name, off: fi.Size()})
		} else {
			// tail -f /dev/null: nothing to read, but wait all the same.
			watched = append(watched, &state{name: name, off: -1})
		}
	}
	if len(watched) == 0 {
		return c.done()
	}
	c.out.Flush()
	t := time.NewTicker(max(interval, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return c.finish(c.status)
		case <-t.C:
		}
		for _, w := range watched {
			if w.off < 0 {
				continue
			}
			f, err := os.Open(c.abs(w.name))
			if err != nil {
				continue
			}
			fi, err := f.Stat()
			if err == nil && fi.Size() < w.off {
				c.warnf("%s: file truncated", w.name)
				w.off = 0
			}
			if err == nil && fi.Size() > w.off {
				f.Seek(w.off, io.SeekStart)
				n, _ := io.Copy(c.out, io.LimitReader(f, fi.Size()-w.off))
				w.off += n
			}
			f.Close()
		}
		if err := c.out.Flush(); err != nil {
			return c.finish(c.status)
		}
	}
}
