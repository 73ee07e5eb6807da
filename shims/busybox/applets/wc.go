package applets

import (
	"bufio"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

func init() {
	register("wc", wc)
}

type wcCounts struct {
	lines, words, chars, bytes, maxLen int64
}

func wc(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "lwcmL", long: map[string]string{
		"lines": "l", "words": "w", "bytes": "c", "chars": "m", "max-line-length": "L"}}, args[1:])
	if !ok {
		return code
	}
	show := []bool{o.has("l"), o.has("w"), o.has("m"), o.has("c"), o.has("L")}
	nshow := 0
	for _, s := range show {
		if s {
			nshow++
		}
	}
	if nshow == 0 {
		show = []bool{true, true, false, true, false}
		nshow = 3
	}
	named := len(files) > 0
	if !named {
		files = []string{"-"}
	}
	// Counts are printed in columns as wide as the total size of the
	// regular files (at least 7 when reading a pipe), like GNU wc; a
	// single count of a single input is not padded.
	type result struct {
		name   string
		counts wcCounts
		ok     bool
	}
	var results []result
	width := 1
	var regular int64
	minWidth := 1
	for _, name := range files {
		if c.broken() {
			break
		}
		rc, err := c.open(name)
		if err != nil {
			c.errorf("%s: %s", name, errText(err))
			results = append(results, result{name: name})
			continue
		}
		if f, ok := rc.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				regular += fi.Size()
			} else {
				minWidth = 7
			}
		} else if f, ok := c.stdin().(*os.File); ok && name == "-" {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				regular += fi.Size()
			} else {
				minWidth = 7
			}
		} else {
			minWidth = 7
		}
		cnt, err := wcCount(rc)
		rc.Close()
		if err != nil {
			c.errorf("%s: %s", name, errText(err))
		}
		results = append(results, result{name: name, counts: cnt, ok: true})
	}
	if !(len(files) == 1 && nshow == 1) && len(results) > 0 && results[0].ok {
		width = len(strconv.FormatInt(regular, 10))
		width = max(width, minWidth)
	}
	var total wcCounts
	print := func(cnt wcCounts, name string) {
		vals := []int64{cnt.lines, cnt.words, cnt.chars, cnt.bytes, cnt.maxLen}
		var parts []string
		for i, v := range vals {
			if show[i] {
				s := strconv.FormatInt(v, 10)
				if len(s) < width {
					s = strings.Repeat(" ", width-len(s)) + s
				}
				parts = append(parts, s)
			}
		}
		if name != "" {
			parts = append(parts, name)
		}
		c.out.WriteString(strings.Join(parts, " ") + "\n")
	}
	for _, r := range results {
		if !r.ok {
			continue
		}
		total.lines += r.counts.lines
		total.words += r.counts.words
		total.chars += r.counts.chars
		total.bytes += r.counts.bytes
		total.maxLen = max(total.maxLen, r.counts.maxLen)
		name := r.name
		if !named {
			name = ""
		}
		print(r.counts, name)
	}
	if len(files) > 1 {
		print(total, "total")
	}
	return c.done()
}

func wcCount(r io.Reader) (wcCounts, error) {
	var cnt wcCounts
	br := bufio.NewReaderSize(r, 64<<10)
	inWord := false
	var lineLen int64
	for {
		ch, size, err := br.ReadRune()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			cnt.maxLen = max(cnt.maxLen, lineLen)
			return cnt, err
		}
		if ch == utf8.RuneError && size == 1 {
			// An invalid byte counts as a byte, not a character.
			cnt.bytes++
			lineLen++
			if !inWord {
				cnt.words++
				inWord = true
			}
			continue
		}
		cnt.bytes += int64(size)
		cnt.chars++
		switch {
		case ch == '\n':
			cnt.lines++
			cnt.maxLen = max(cnt.maxLen, lineLen)
			lineLen = 0
		case ch == '\t':
			lineLen += 8 - lineLen%8
		case ch == '\r' || ch == '\f':
			lineLen = 0
		case unicode.IsPrint(ch):
			lineLen++
		}
		if unicode.IsSpace(ch) {
			inWord = false
		} else if !inWord {
			cnt.words++
			inWord = true
		}
	}
}
