package applets

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
)

func init() {
	register("tr", tr)
}

// trSet is an expanded tr set; fill marks the position of a [c*] item
// (set 2 only) that stretches to the length of set 1.
type trSet struct {
	chars []byte
	fill  int // index of the [c*] item, -1 if none
	// classes remembers [:upper:]/[:lower:] positions for case mapping.
	hasClass bool
}

func trClass(name string) ([]byte, bool) {
	var r []byte
	for ch := 0; ch < 256; ch++ {
		b := byte(ch)
		var in bool
		switch name {
		case "alpha":
			in = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
		case "digit":
			in = b >= '0' && b <= '9'
		case "alnum":
			in = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		case "upper":
			in = b >= 'A' && b <= 'Z'
		case "lower":
			in = b >= 'a' && b <= 'z'
		case "space":
			in = b == ' ' || b >= '\t' && b <= '\r'
		case "blank":
			in = b == ' ' || b == '\t'
		case "punct":
			in = b > ' ' && b < 127 && !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9')
		case "print":
			in = b >= ' ' && b < 127
		case "graph":
			in = b > ' ' && b < 127
		case "cntrl":
			in = b < ' ' || b == 127
		case "xdigit":
			in = b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
		default:
			return nil, false
		}
		if in {
			r = append(r, b)
		}
	}
	return r, true
}

// trChar reads one possibly escaped character at s[i:].
func trChar(s string, i int) (byte, int) {
	if s[i] != '\\' || i+1 >= len(s) {
		return s[i], 1
	}
	c := s[i+1]
	switch c {
	case 'a':
		return '\a', 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'v':
		return '\v', 2
	}
	if c >= '0' && c <= '7' {
		n := 1
		for n < 3 && i+1+n < len(s) && s[i+1+n] >= '0' && s[i+1+n] <= '7' {
			n++
		}
		v, _ := strconv.ParseUint(s[i+1:i+1+n], 8, 16)
		return byte(v), 1 + n
	}
	return c, 2
}

func parseTrSet(s string, second bool) (*trSet, error) {
	set := &trSet{fill: -1}
	for i := 0; i < len(s); {
		if s[i] == '[' && i+1 < len(s) {
			// [:class:], [=c=], [c*n]
			if s[i+1] == ':' {
				if end := indexFrom(s, ":]", i+2); end >= 0 {
					name := s[i+2 : end]
					cl, ok := trClass(name)
					if !ok {
						return nil, fmt.Errorf("invalid character class '%s'", name)
					}
					set.chars = append(set.chars, cl...)
					set.hasClass = true
					i = end + 2
					continue
				}
			}
			if s[i+1] == '=' {
				if end := indexFrom(s, "=]", i+2); end == i+3 {
					set.chars = append(set.chars, s[i+2])
					i = end + 2
					continue
				}
			}
			if i+2 < len(s) {
				ch, n := trChar(s, i+1)
				if i+1+n < len(s) && s[i+1+n] == '*' {
					if end := indexFrom(s, "]", i+2+n); end >= 0 {
						rep := s[i+2+n : end]
						if !second {
							return nil, fmt.Errorf("the [c*] repeat construct may not appear in string1")
						}
						count := 0
						if rep == "" {
							if set.fill >= 0 {
								return nil, fmt.Errorf("only one [c*] repeat construct may appear in string2")
							}
							set.fill = len(set.chars)
							count = 0
						} else {
							base := 10
							if rep[0] == '0' {
								base = 8
							}
							v, err := strconv.ParseUint(rep, base, 31)
							if err != nil {
								return nil, fmt.Errorf("invalid repeat count '%s' in [c*n] construct", rep)
							}
							count = int(v)
							if count == 0 {
								set.fill = len(set.chars)
							}
						}
						for k := 0; k < count; k++ {
							set.chars = append(set.chars, ch)
						}
						if count == 0 {
							// Placeholder for the fill character.
							set.chars = append(set.chars, ch)
						}
						i = end + 1
						continue
					}
				}
			}
		}
		ch, n := trChar(s, i)
		if i+n+1 < len(s) && s[i+n] == '-' {
			hi, m := trChar(s, i+n+1)
			if hi < ch {
				return nil, fmt.Errorf("range-endpoints of '%s' are in reverse collating sequence order", s[i:i+n+1+m])
			}
			for x := int(ch); x <= int(hi); x++ {
				set.chars = append(set.chars, byte(x))
			}
			i += n + 1 + m
			continue
		}
		set.chars = append(set.chars, ch)
		i += n
	}
	return set, nil
}

func indexFrom(s, sub string, from int) int {
	if from > len(s) {
		return -1
	}
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func tr(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, sets, code, ok := c.parseOpts(&optSpec{short: "cCdst", long: map[string]string{
		"complement": "c", "delete": "d", "squeeze-repeats": "s", "truncate-set1": "t"}}, args[1:])
	if !ok {
		return code
	}
	complement := o.has("c") || o.has("C")
	del, squeeze := o.has("d"), o.has("s")
	switch {
	case len(sets) == 0:
		return c.fail(1, "missing operand")
	case len(sets) == 1 && !del && !squeeze:
		return c.fail(1, "missing operand after '%s'\nTwo strings must be given when translating.", sets[0])
	case len(sets) == 2 && del && !squeeze:
		return c.fail(1, "extra operand '%s'\nOnly one string may be given when deleting without squeezing repeats.", sets[1])
	case len(sets) > 2:
		return c.fail(1, "extra operand '%s'", sets[2])
	}
	s1, err := parseTrSet(sets[0], false)
	if err != nil {
		return c.fail(1, "%s", err)
	}
	var in1 [256]bool
	for _, ch := range s1.chars {
		in1[ch] = true
	}
	chars1 := s1.chars
	if complement {
		chars1 = nil
		for ch := 0; ch < 256; ch++ {
			if !in1[ch] {
				chars1 = append(chars1, byte(ch))
			}
			in1[ch] = !in1[ch]
		}
	}
	var s2 *trSet
	if len(sets) == 2 {
		if s2, err = parseTrSet(sets[1], true); err != nil {
			return c.fail(1, "%s", err)
		}
	}
	var mapping [256]byte
	for i := range mapping {
		mapping[i] = byte(i)
	}
	translate := !del && s2 != nil
	var squeezeSet [256]bool
	if translate {
		chars2 := s2.chars
		if s2.fill >= 0 {
			need := len(chars1) - (len(chars2) - 1)
			fillCh := chars2[s2.fill]
			var exp []byte
			exp = append(exp, chars2[:s2.fill]...)
			for k := 0; k < need; k++ {
				exp = append(exp, fillCh)
			}
			exp = append(exp, chars2[s2.fill+1:]...)
			chars2 = exp
		}
		if len(chars2) == 0 {
			return c.fail(1, "when not truncating set1, string2 must be non-empty")
		}
		if o.has("t") && len(chars1) > len(chars2) {
			chars1 = chars1[:len(chars2)]
		}
		for i, ch := range chars1 {
			if i < len(chars2) {
				mapping[ch] = chars2[i]
			} else {
				mapping[ch] = chars2[len(chars2)-1]
			}
		}
		for _, ch := range chars2 {
			squeezeSet[ch] = true
		}
	} else if squeeze {
		if del && s2 != nil {
			for _, ch := range s2.chars {
				squeezeSet[ch] = true
			}
		} else {
			squeezeSet = in1
		}
	}
	br := bufio.NewReaderSize(c.stdin(), 64<<10)
	last := -1
	for !c.broken() {
		ch, err := br.ReadByte()
		if err != nil {
			if err != io.EOF {
				c.errorf("read error: %s", errText(err))
			}
			break
		}
		if del && in1[ch] {
			continue
		}
		if translate {
			ch = mapping[ch]
		}
		if squeeze && squeezeSet[ch] && int(ch) == last {
			continue
		}
		last = int(ch)
		c.out.WriteByte(ch)
	}
	return c.done()
}
