package applets

import (
	"fmt"
	"strings"
)

// optSpec describes an applet's options, getopt_long style.
type optSpec struct {
	// short lists the option letters; a letter followed by ':' takes an
	// argument ("-n 5", "-n5"), followed by '::' an optional attached one
	// ("-i", "-i.bak").
	short string
	// long maps long names to the option's key (a letter of short, or the
	// long name itself for long-only options). A name ending in '=' takes
	// an argument ("--lines=5", "--lines 5"); ending in '?' an optional one
	// ("--color", "--color=never").
	long map[string]string
	// posix stops at the first operand instead of permuting (GNU).
	posix bool
	// usage is the exit status of a usage error (default 1).
	usage int
}

type opt struct {
	key string
	arg string
	set bool // an optional argument was given
}

type opts struct{ list []opt }

func (o *opts) has(key string) bool {
	for _, x := range o.list {
		if x.key == key {
			return true
		}
	}
	return false
}

// count is how many times key was given (-v -v, -vv).
func (o *opts) count(key string) int {
	n := 0
	for _, x := range o.list {
		if x.key == key {
			n++
		}
	}
	return n
}

// val is the argument of the last key given.
func (o *opts) val(key string) (string, bool) {
	for i := len(o.list) - 1; i >= 0; i-- {
		if o.list[i].key == key {
			return o.list[i].arg, true
		}
	}
	return "", false
}

// str is val with a default.
func (o *opts) str(key, def string) string {
	if v, ok := o.val(key); ok {
		return v
	}
	return def
}

// all is every argument of key, in order.
func (o *opts) all(key string) []string {
	var r []string
	for _, x := range o.list {
		if x.key == key {
			r = append(r, x.arg)
		}
	}
	return r
}

// last returns which of keys was given last ("" if none): for options that
// override each other (-A/-a, -P/-L).
func (o *opts) last(keys ...string) string {
	for i := len(o.list) - 1; i >= 0; i-- {
		for _, k := range keys {
			if o.list[i].key == k {
				return k
			}
		}
	}
	return ""
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parse parses args (without the applet name) and returns the options and
// the operands.
func (s *optSpec) parse(args []string) (*opts, []string, error) {
	o := &opts{}
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return o, append(operands, args[i+1:]...), nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			full, key, err := s.findLong(name)
			if err != nil {
				return nil, nil, err
			}
			switch full[len(full)-1] {
			case '=':
				if !hasVal {
					if i+1 >= len(args) {
						return nil, nil, &usageError{fmt.Sprintf("option '--%s' requires an argument", strings.TrimSuffix(full, "="))}
					}
					i++
					val = args[i]
				}
				o.list = append(o.list, opt{key: key, arg: val, set: true})
			case '?':
				o.list = append(o.list, opt{key: key, arg: val, set: hasVal})
			default:
				if hasVal {
					return nil, nil, &usageError{fmt.Sprintf("option '--%s' doesn't allow an argument", full)}
				}
				o.list = append(o.list, opt{key: key})
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				c := a[j]
				k := strings.IndexByte(s.short, c)
				if k < 0 || c == ':' {
					return nil, nil, &usageError{fmt.Sprintf("invalid option -- '%c'", c)}
				}
				rest := s.short[k+1:]
				switch {
				case strings.HasPrefix(rest, "::"):
					o.list = append(o.list, opt{key: string(c), arg: a[j+1:], set: j+1 < len(a)})
					j = len(a)
				case strings.HasPrefix(rest, ":"):
					val := a[j+1:]
					if val == "" {
						if i+1 >= len(args) {
							return nil, nil, &usageError{fmt.Sprintf("option requires an argument -- '%c'", c)}
						}
						i++
						val = args[i]
					}
					o.list = append(o.list, opt{key: string(c), arg: val, set: true})
					j = len(a)
				default:
					o.list = append(o.list, opt{key: string(c)})
				}
			}
		default:
			if s.posix {
				return o, append(operands, args[i:]...), nil
			}
			operands = append(operands, a)
		}
	}
	return o, operands, nil
}

// findLong resolves a long option name or an unambiguous prefix of one.
func (s *optSpec) findLong(name string) (full, key string, err error) {
	var match []string
	for l := range s.long {
		base := strings.TrimRight(l, "=?")
		if base == name {
			return l, s.long[l], nil
		}
		if strings.HasPrefix(base, name) {
			match = append(match, l)
		}
	}
	if len(match) == 1 {
		return match[0], s.long[match[0]], nil
	}
	if len(match) > 1 {
		// Prefixes of several spellings of one option are fine.
		same := true
		for _, m := range match[1:] {
			if s.long[m] != s.long[match[0]] || m[len(m)-1] != match[0][len(match[0])-1] {
				same = false
			}
		}
		if same {
			return match[0], s.long[match[0]], nil
		}
		return "", "", &usageError{fmt.Sprintf("option '--%s' is ambiguous", name)}
	}
	return "", "", &usageError{fmt.Sprintf("unrecognized option '--%s'", name)}
}

// parseOpts parses the options of c's applet; on a usage error it prints
// the message and returns ok false with the status to return.
func (c *cmd) parseOpts(s *optSpec, args []string) (*opts, []string, int, bool) {
	o, operands, err := s.parse(args)
	if err != nil {
		code := s.usage
		if code == 0 {
			code = 1
		}
		c.warnf("%s", err)
		return nil, nil, code, false
	}
	return o, operands, 0, true
}
