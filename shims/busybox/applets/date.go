package applets

import (
	"context"
	"strings"
	"time"
)

func init() {
	register("date", date)
}

// now is the clock of date; tests replace it.
var now = time.Now

func date(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "ud:r:I::Rs:f:", long: map[string]string{
		"utc": "u", "universal": "u", "date=": "d", "reference=": "r", "iso-8601?": "I",
		"rfc-email": "R", "rfc-2822": "R", "rfc-3339=": "rfc3339", "set=": "s", "file=": "f"}}, args[1:])
	if !ok {
		return code
	}
	if o.has("s") {
		return c.fail(1, "cannot set date: Operation not permitted")
	}
	loc := c.zone()
	if o.has("u") {
		loc = time.UTC
	}
	format := "%a %b %e %H:%M:%S %Z %Y"
	for _, op := range operands {
		if strings.HasPrefix(op, "+") {
			format = op[1:]
			continue
		}
		if len(operands) == 1 {
			return c.fail(1, "cannot set date: Operation not permitted")
		}
		return c.fail(1, "extra operand '%s'", op)
	}
	if len(operands) > 1 {
		return c.fail(1, "extra operand '%s'", operands[1])
	}
	switch {
	case o.has("I"):
		v, _ := o.val("I")
		switch {
		case v == "" || strings.HasPrefix("date", v):
			format = "%Y-%m-%d"
		case strings.HasPrefix("hours", v):
			format = "%Y-%m-%dT%H%:z"
		case strings.HasPrefix("minutes", v):
			format = "%Y-%m-%dT%H:%M%:z"
		case strings.HasPrefix("seconds", v):
			format = "%Y-%m-%dT%H:%M:%S%:z"
		case v == "ns" || strings.HasPrefix("ns", v):
			format = "%Y-%m-%dT%H:%M:%S,%N%:z"
		default:
			return c.fail(1, "invalid argument '%s' for '--iso-8601'", v)
		}
	case o.has("R"):
		format = "%a, %d %b %Y %H:%M:%S %z"
	case o.has("rfc3339"):
		v, _ := o.val("rfc3339")
		switch v {
		case "date":
			format = "%Y-%m-%d"
		case "seconds":
			format = "%Y-%m-%d %H:%M:%S%:z"
		case "ns":
			format = "%Y-%m-%d %H:%M:%S.%N%:z"
		default:
			return c.fail(1, "invalid argument '%s' for '--rfc-3339'", v)
		}
	}
	t := now()
	switch {
	case o.has("r"):
		f, _ := o.val("r")
		fi, err := Stat(c.abs(f))
		if err != nil {
			return c.fail(1, "%s: %s", f, errText(err))
		}
		t = fi.ModTime()
	case o.has("f"):
		f, _ := o.val("f")
		data, err := readInput(c, f)
		if err != nil {
			return c.fail(1, "%s: %s", f, errText(err))
		}
		for _, line := range strings.Split(strings.TrimRight(data, "\n"), "\n") {
			tt, err := parseDate(line, t, loc)
			if err != nil {
				c.errorf("invalid date '%s'", line)
				continue
			}
			c.out.WriteString(strftime(format, tt.In(loc)) + "\n")
		}
		return c.done()
	case o.has("d"):
		s, _ := o.val("d")
		var err error
		t, err = parseDate(s, t, loc)
		if err != nil {
			return c.fail(1, "invalid date '%s'", s)
		}
	}
	c.out.WriteString(strftime(format, t.In(loc)) + "\n")
	return c.done()
}

// readInput reads a whole input operand ("-" is stdin).
func readInput(c *cmd, name string) (string, error) {
	rc, err := c.open(name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String(), nil
}
