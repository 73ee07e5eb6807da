package applets

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

func init() {
	register("sleep", sleep)
	register("seq", seq)
}

// sleep sums its operands (fractions and s, m, h, d suffixes allowed,
// "infinity") and waits, ending early when the context does.
func sleep(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	if len(args) < 2 {
		return c.fail(1, "missing operand")
	}
	var total time.Duration
	for _, a := range args[1:] {
		if a == "--" {
			continue
		}
		d, err := parseDuration(a)
		if err != nil {
			return c.fail(1, "invalid time interval '%s'", a)
		}
		if total += d; total < 0 {
			total = math.MaxInt64
		}
	}
	t := time.NewTimer(total)
	defer t.Stop()
	select {
	case <-t.C:
		return 0
	case <-ctx.Done():
		return 130
	}
}

// parseDuration parses sleep's and timeout's intervals: seconds with an
// optional fraction and s, m, h or d suffix, or "infinity".
func parseDuration(a string) (time.Duration, error) {
	s := a
	mult := 1.0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 's':
			s = s[:n-1]
		case 'm':
			s, mult = s[:n-1], 60
		case 'h':
			s, mult = s[:n-1], 3600
		case 'd':
			s, mult = s[:n-1], 86400
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if strings.EqualFold(a, "inf") || strings.EqualFold(a, "infinity") {
		v, mult, err = math.Inf(1), 1, nil
	}
	if err != nil || v < 0 || math.IsNaN(v) || strings.ContainsAny(s, "xXpP_") {
		return 0, fmt.Errorf("invalid time interval '%s'", a)
	}
	total := v * mult
	if total >= float64(math.MaxInt64)/float64(time.Second) {
		return math.MaxInt64, nil
	}
	return time.Duration(total * float64(time.Second)), nil
}

// seqNum is one operand of seq: its value, and how it was written (for
// the output precision).
type seqNum struct {
	v     float64
	big   *big.Int // exact value when an integer
	prec  int      // digits after the point
	width int      // characters before the point, sign included
	exp   bool
}

func parseSeqNum(s string) (seqNum, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || strings.ContainsAny(s, "_xXpP") {
		return seqNum{}, false
	}
	n := seqNum{v: v}
	mant := s
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		n.exp = true
		mant = s[:i]
	}
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		n.prec = len(mant) - i - 1
		n.width = i
	} else {
		n.width = len(mant)
		if !n.exp {
			n.big, _ = new(big.Int).SetString(strings.TrimPrefix(s, "+"), 10)
		}
	}
	return n, true
}

func seq(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	sep, format := "\n", ""
	equal := false
	var nums []string
	a := args[1:]
	for i := 0; i < len(a); i++ {
		x := a[i]
		isNum := len(x) > 1 && x[0] == '-' && (x[1] >= '0' && x[1] <= '9' || x[1] == '.')
		switch {
		case x == "--":
			nums = append(nums, a[i+1:]...)
			i = len(a)
		case isNum || !strings.HasPrefix(x, "-") || x == "-":
			nums = append(nums, x)
		case x == "-w" || x == "--equal-width":
			equal = true
		case x == "-s" || x == "-f":
			if i+1 >= len(a) {
				return c.fail(1, "option requires an argument -- '%c'", x[1])
			}
			i++
			if x == "-s" {
				sep = a[i]
			} else {
				format = a[i]
			}
		case strings.HasPrefix(x, "-s"):
			sep = x[2:]
		case strings.HasPrefix(x, "-f"):
			format = x[2:]
		case strings.HasPrefix(x, "--separator="):
			sep = strings.TrimPrefix(x, "--separator=")
		case strings.HasPrefix(x, "--format="):
			format = strings.TrimPrefix(x, "--format=")
		case strings.HasPrefix(x, "--"):
			return c.fail(1, "unrecognized option '%s'", x)
		default:
			return c.fail(1, "invalid option -- '%c'", x[1])
		}
	}
	if len(nums) == 0 {
		return c.fail(1, "missing operand")
	}
	if len(nums) > 3 {
		return c.fail(1, "extra operand '%s'", nums[3])
	}
	parsed := make([]seqNum, len(nums))
	for i, s := range nums {
		n, ok := parseSeqNum(s)
		if !ok {
			return c.fail(1, "invalid floating point argument: '%s'", s)
		}
		parsed[i] = n
	}
	first, incr := seqNum{v: 1, big: big.NewInt(1), width: 1}, seqNum{v: 1, big: big.NewInt(1), width: 1}
	var last seqNum
	switch len(parsed) {
	case 1:
		last = parsed[0]
	case 2:
		first, last = parsed[0], parsed[1]
	default:
		first, incr, last = parsed[0], parsed[1], parsed[2]
	}
	if incr.v == 0 {
		return c.fail(1, "invalid Zero increment value: '%s'", nums[1])
	}
	if equal && format != "" {
		return c.fail(1, "format string may not be specified when printing equal width strings")
	}
	if format != "" {
		if err := checkSeqFormat(format); err != nil {
			return c.fail(1, "%s", err)
		}
	}
	prec := max(first.prec, incr.prec)
	emit := func(s string, i int) {
		if i > 0 {
			c.out.WriteString(sep)
		}
		c.out.WriteString(s)
	}
	// Integers are exact, however large.
	if first.big != nil && incr.big != nil && last.big != nil && format == "" {
		width := 0
		if equal {
			width = max(len(first.big.String()), len(last.big.String()))
		}
		cur := new(big.Int).Set(first.big)
		up := incr.big.Sign() > 0
		i := 0
		for ; (up && cur.Cmp(last.big) <= 0) || (!up && cur.Cmp(last.big) >= 0); i++ {
			if c.broken() {
				break
			}
			emit(padNum(cur.String(), width), i)
			cur.Add(cur, incr.big)
		}
		if i > 0 {
			c.out.WriteString("\n")
		}
		return c.done()
	}
	fmtNum := func(v float64) string {
		if format != "" {
			return fmt.Sprintf(goFloatFormat(format), v)
		}
		if first.exp || incr.exp || last.exp {
			if prec == 0 {
				return strconv.FormatFloat(v, 'g', -1, 64)
			}
		}
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	width := 0
	if equal {
		width = max(len(fmtNum(first.v)), len(fmtNum(last.v)))
	}
	i := 0
	for ; ; i++ {
		v := first.v + float64(i)*incr.v
		if (incr.v > 0 && v > last.v+1e-10*math.Abs(incr.v)) || (incr.v < 0 && v < last.v-1e-10*math.Abs(incr.v)) || c.broken() {
			break
		}
		emit(padNum(fmtNum(v), width), i)
	}
	if i > 0 {
		c.out.WriteString("\n")
	}
	return c.done()
}

// padNum zero-pads a number to width, after its sign.
func padNum(s string, width int) string {
	if len(s) >= width {
		return s
	}
	if strings.HasPrefix(s, "-") {
		return "-" + strings.Repeat("0", width-len(s)) + s[1:]
	}
	return strings.Repeat("0", width-len(s)) + s
}

// checkSeqFormat accepts a format with exactly one floating conversion.
func checkSeqFormat(f string) error {
	n := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			i++
			continue
		}
		j := i + 1
		for j < len(f) && strings.IndexByte("-+ #0'123456789.", f[j]) >= 0 {
			j++
		}
		if j >= len(f) || strings.IndexByte("eEfFgGaA", f[j]) < 0 {
			return fmt.Errorf("format '%s' has unknown %%%s directive", f, f[i+1:min(j+1, len(f))])
		}
		n++
		i = j
	}
	if n != 1 {
		if n == 0 {
			return fmt.Errorf("format '%s' has no %% directive", f)
		}
		return fmt.Errorf("format '%s' has too many %% directives", f)
	}
	return nil
}

// goFloatFormat adapts a C float format for Go (%g needs an explicit
// precision to behave like C's).
func goFloatFormat(f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteByte(f[i])
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			b.WriteString("%%")
			i++
			continue
		}
		j := i + 1
		for j < len(f) && strings.IndexByte("-+ #0'123456789.", f[j]) >= 0 {
			j++
		}
		spec := strings.ReplaceAll(f[i:j], "'", "")
		verb := f[j]
		if !strings.Contains(spec, ".") && verb != 'a' && verb != 'A' {
			spec += ".6"
		}
		switch verb {
		case 'F':
			verb = 'f'
		case 'a':
			verb = 'x'
		case 'A':
			verb = 'X'
		}
		b.WriteString(spec + string(verb))
		i = j
	}
	return b.String()
}
