package applets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

func init() {
	register("uniq", uniq)
	register("cut", cut)
}

func uniq(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "cdDuif:s:w:z", long: map[string]string{
		"count": "c", "repeated": "d", "all-repeated?": "D", "unique": "u", "ignore-case": "i",
		"skip-fields=": "f", "skip-chars=": "s", "check-chars=": "w", "zero-terminated": "z"}}, args[1:])
	if !ok {
		return code
	}
	num := func(k string) int {
		v, _ := o.val(k)
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			c.warnf("%s: invalid number", v)
			return -1
		}
		return n
	}
	skipF, skipC, check := 0, 0, -1
	if o.has("f") {
		if skipF = num("f"); skipF < 0 {
			return c.finish(1)
		}
	}
	if o.has("s") {
		if skipC = num("s"); skipC < 0 {
			return c.finish(1)
		}
	}
	if o.has("w") {
		if check = num("w"); check < 0 {
			return c.finish(1)
		}
	}
	if len(files) > 2 {
		return c.fail(1, "extra operand '%s'", files[2])
	}
	in := "-"
	if len(files) > 0 {
		in = files[0]
	}
	rc, err := c.open(in)
	if err != nil {
		return c.fail(1, "%s: %s", in, errText(err))
	}
	defer rc.Close()
	if len(files) == 2 && files[1] != "-" {
		f, err := os.Create(c.abs(files[1]))
		if err != nil {
			return c.fail(1, "%s: %s", files[1], errText(err))
		}
		defer f.Close()
		c.out.Reset(f)
	}
	sep := byte('\n')
	if o.has("z") {
		sep = 0
	}
	key := func(line []byte) []byte {
		k := line
		for i := 0; i < skipF; i++ {
			k = bytes.TrimLeft(k, " \t")
			j := bytes.IndexAny(k, " \t")
			if j < 0 {
				k = nil
				break
			}
			k = k[j:]
		}
		if skipC > len(k) {
			k = nil
		} else {
			k = k[skipC:]
		}
		if check >= 0 && check < len(k) {
			k = k[:check]
		}
		if o.has("i") {
			k = bytes.ToLower(k)
		}
		return k
	}
	count, dups, uniqOnly, all := o.has("c"), o.has("d"), o.has("u"), o.has("D")
	var prev []byte
	var group [][]byte
	flush := func() {
		if len(group) == 0 {
			return
		}
		n := len(group)
		switch {
		case all:
			if n > 1 {
				for _, l := range group {
					c.out.Write(l)
					c.out.WriteByte(sep)
				}
			}
		case (dups && n < 2) || (uniqOnly && n > 1):
		default:
			if count {
				fmt.Fprintf(c.out, "%7d ", n)
			}
			c.out.Write(group[0])
			c.out.WriteByte(sep)
		}
		group = group[:0]
	}
	lr := newLineReader(rc)
	lr.sep = sep
	for !c.broken() {
		line, _, err := lr.next()
		if err != nil {
			if err != io.EOF {
				c.errorf("%s: %s", in, errText(err))
			}
			break
		}
		line = append([]byte(nil), line...)
		k := key(line)
		if len(group) > 0 && !bytes.Equal(k, prev) {
			flush()
		}
		prev = k
		group = append(group, line)
	}
	flush()
	return c.done()
}

var errNumberedFrom1 = errors.New("numbered from 1")

// cutList is a sorted list of 1-based inclusive ranges.
type cutList [][2]int

const cutInf = int(^uint(0) >> 1)

func parseCutList(s string) (cutList, error) {
	var l cutList
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		lo, hi, isRange := strings.Cut(part, "-")
		var a, b int
		var err error
		switch {
		case !isRange:
			a, err = strconv.Atoi(lo)
			b = a
		case lo == "" && hi == "":
			return nil, errors.New("invalid range with no endpoint: -")
		case lo == "":
			a = 1
			b, err = strconv.Atoi(hi)
		case hi == "":
			a, err = strconv.Atoi(lo)
			b = cutInf
		default:
			a, err = strconv.Atoi(lo)
			if err == nil {
				b, err = strconv.Atoi(hi)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("invalid field value '%s'", part)
		}
		if a < 1 || b < 1 {
			return nil, errNumberedFrom1
		}
		if b < a {
			return nil, errors.New("invalid decreasing range")
		}
		l = append(l, [2]int{a, b})
	}
	if len(l) == 0 {
		return nil, errors.New("missing list of fields")
	}
	sort.Slice(l, func(i, j int) bool { return l[i][0] < l[j][0] })
	merged := cutList{l[0]}
	for _, r := range l[1:] {
		last := &merged[len(merged)-1]
		if r[0] <= last[1]+1 && last[1] != cutInf {
			last[1] = max(last[1], r[1])
		} else if last[1] == cutInf {
			continue
		} else {
			merged = append(merged, r)
		}
	}
	return merged, nil
}

func (l cutList) has(i int) bool {
	for _, r := range l {
		if i >= r[0] && i <= r[1] {
			return true
		}
	}
	return false
}

func cut(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, files, code, ok := c.parseOpts(&optSpec{short: "b:c:f:d:snz", long: map[string]string{
		"bytes=": "b", "characters=": "c", "fields=": "f", "delimiter=": "d", "only-delimited": "s",
		"complement": "complement", "output-delimiter=": "od", "zero-terminated": "z"}}, args[1:])
	if !ok {
		return code
	}
	mode := ""
	var spec string
	for _, k := range []string{"b", "c", "f"} {
		if v, ok := o.val(k); ok {
			if mode != "" {
				return c.fail(1, "only one type of list may be specified")
			}
			mode, spec = k, v
		}
	}
	if mode == "" {
		return c.fail(1, "you must specify a list of bytes, characters, or fields")
	}
	list, err := parseCutList(spec)
	if err == errNumberedFrom1 {
		if mode == "f" {
			return c.fail(1, "fields are numbered from 1")
		}
		return c.fail(1, "byte/character positions are numbered from 1")
	}
	if err != nil {
		return c.fail(1, "%s", err)
	}
	delim := o.str("d", "\t")
	if mode != "f" && o.has("d") {
		return c.fail(1, "an input delimiter may be specified only when operating on fields")
	}
	if len(delim) != 1 {
		return c.fail(1, "the delimiter must be a single character")
	}
	outDelim, hasOutDelim := o.val("od")
	if mode == "f" && !hasOutDelim {
		outDelim = delim
	}
	complement := o.has("complement")
	sel := func(i int) bool { return list.has(i) != complement }
	sep := byte('\n')
	if o.has("z") {
		sep = 0
	}
	c.eachInput(files, func(name string, r io.Reader) error {
		lr := newLineReader(r)
		lr.sep = sep
		for !c.broken() {
			line, _, err := lr.next()
			if err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			if mode == "f" {
				if bytes.IndexByte(line, delim[0]) < 0 {
					if !o.has("s") {
						c.out.Write(line)
						c.out.WriteByte(sep)
					}
					continue
				}
				first := true
				for i, f := range bytes.Split(line, []byte(delim)) {
					if sel(i + 1) {
						if !first {
							c.out.WriteString(outDelim)
						}
						first = false
						c.out.Write(f)
					}
				}
			} else {
				prevSel := false
				any := false
				for i := range line {
					if sel(i + 1) {
						if hasOutDelim && any && !prevSel {
							c.out.WriteString(outDelim)
						}
						c.out.WriteByte(line[i])
						any, prevSel = true, true
					} else {
						prevSel = false
					}
				}
			}
			c.out.WriteByte(sep)
		}
		return nil
	})
	return c.done()
}
