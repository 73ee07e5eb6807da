package applets

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

func init() {
	register("expr", expr)
}

type exprErr struct {
	msg  string
	code int
}

func (e *exprErr) Error() string { return e.msg }

type exprParser struct {
	args []string
	pos  int
}

// expr evaluates its arguments as an expression (POSIX expr with GNU's
// match, substr, index, length and +). Status 0 for a non-null, non-zero
// result, 1 otherwise, 2 for a bad expression, 3 for other errors.
func expr(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	a := args[1:]
	if len(a) > 0 && a[0] == "--" {
		a = a[1:]
	}
	if len(a) == 0 {
		return c.fail(2, "missing operand")
	}
	p := &exprParser{args: a}
	v, err := p.or()
	if err == nil && p.pos < len(p.args) {
		err = &exprErr{fmt.Sprintf("syntax error: unexpected argument '%s'", p.args[p.pos]), 2}
	}
	if err != nil {
		code := 2
		if e, ok := err.(*exprErr); ok {
			code = e.code
		}
		return c.fail(code, "%s", err)
	}
	c.out.WriteString(v + "\n")
	if exprNull(v) {
		return c.finish(1)
	}
	return c.done()
}

// exprNull is whether a value counts as false: empty or a zero number.
func exprNull(v string) bool {
	if v == "" {
		return true
	}
	n, ok := exprInt(v)
	return ok && n.Sign() == 0
}

func exprInt(s string) (*big.Int, bool) {
	t := strings.TrimPrefix(s, "-")
	if t == "" {
		return nil, false
	}
	for _, ch := range t {
		if ch < '0' || ch > '9' {
			return nil, false
		}
	}
	n, ok := new(big.Int).SetString(s, 10)
	return n, ok
}

func (p *exprParser) peek() (string, bool) {
	if p.pos < len(p.args) {
		return p.args[p.pos], true
	}
	return "", false
}

func (p *exprParser) binary(ops []string, next func() (string, error), apply func(op, l, r string) (string, error)) (string, error) {
	l, err := next()
	if err != nil {
		return "", err
	}
	for {
		op, ok := p.peek()
		if !ok {
			return l, nil
		}
		found := false
		for _, o := range ops {
			if o == op {
				found = true
			}
		}
		if !found {
			return l, nil
		}
		p.pos++
		if p.pos >= len(p.args) {
			return "", &exprErr{fmt.Sprintf("syntax error: missing argument after '%s'", op), 2}
		}
		r, err := next()
		if err != nil {
			return "", err
		}
		if l, err = apply(op, l, r); err != nil {
			return "", err
		}
	}
}

func (p *exprParser) or() (string, error) {
	return p.binary([]string{"|"}, p.and, func(_, l, r string) (string, error) {
		if !exprNull(l) {
			return l, nil
		}
		if !exprNull(r) {
			return r, nil
		}
		return "0", nil
	})
}

func (p *exprParser) and() (string, error) {
	return p.binary([]string{"&"}, p.compare, func(_, l, r string) (string, error) {
		if exprNull(l) || exprNull(r) {
			return "0", nil
		}
		return l, nil
	})
}

func (p *exprParser) compare() (string, error) {
	return p.binary([]string{"=", "==", "!=", "<", "<=", ">", ">="}, p.additive, func(op, l, r string) (string, error) {
		var c int
		li, lok := exprInt(l)
		ri, rok := exprInt(r)
		if lok && rok {
			c = li.Cmp(ri)
		} else {
			c = strings.Compare(l, r)
		}
		var t bool
		switch op {
		case "=", "==":
			t = c == 0
		case "!=":
			t = c != 0
		case "<":
			t = c < 0
		case "<=":
			t = c <= 0
		case ">":
			t = c > 0
		case ">=":
			t = c >= 0
		}
		if t {
			return "1", nil
		}
		return "0", nil
	})
}

func exprArith(op, l, r string) (string, error) {
	a, ok1 := exprInt(l)
	b, ok2 := exprInt(r)
	if !ok1 || !ok2 {
		return "", &exprErr{"non-integer argument", 2}
	}
	z := new(big.Int)
	switch op {
	case "+":
		z.Add(a, b)
	case "-":
		z.Sub(a, b)
	case "*":
		z.Mul(a, b)
	case "/", "%":
		if b.Sign() == 0 {
			return "", &exprErr{"division by zero", 2}
		}
		if op == "/" {
			z.Quo(a, b)
		} else {
			z.Rem(a, b)
		}
	}
	return z.String(), nil
}

func (p *exprParser) additive() (string, error) {
	return p.binary([]string{"+", "-"}, p.multiplicative, exprArith)
}

func (p *exprParser) multiplicative() (string, error) {
	return p.binary([]string{"*", "/", "%"}, p.match, exprArith)
}

func (p *exprParser) match() (string, error) {
	return p.binary([]string{":"}, p.unary, func(_, l, r string) (string, error) {
		return exprMatch(l, r)
	})
}

// exprMatch is STRING : REGEX, anchored at the start.
func exprMatch(s, pat string) (string, error) {
	re, err := compileRE(pat, reFlags{dotNL: true})
	if err != nil {
		return "", &exprErr{err.Error(), 2}
	}
	m := re.FindStringSubmatchIndex(s)
	if m == nil || m[0] != 0 {
		if re.NumSubexp() > 0 {
			return "", nil
		}
		return "0", nil
	}
	if re.NumSubexp() > 0 {
		if m[2] < 0 {
			return "", nil
		}
		return s[m[2]:m[3]], nil
	}
	return strconv.Itoa(utf8.RuneCountInString(s[:m[1]])), nil
}

func (p *exprParser) operand() (string, error) {
	if p.pos >= len(p.args) {
		return "", &exprErr{fmt.Sprintf("syntax error: missing argument after '%s'", p.args[p.pos-1]), 2}
	}
	p.pos++
	return p.args[p.pos-1], nil
}

func (p *exprParser) unary() (string, error) {
	tok, ok := p.peek()
	if !ok {
		return "", &exprErr{fmt.Sprintf("syntax error: missing argument after '%s'", p.args[p.pos-1]), 2}
	}
	// Keywords are only keywords when followed by operands.
	switch tok {
	case "+":
		p.pos++
		return p.operand()
	case "(":
		p.pos++
		v, err := p.or()
		if err != nil {
			return "", err
		}
		if t, ok := p.peek(); !ok || t != ")" {
			if ok {
				return "", &exprErr{fmt.Sprintf("syntax error: expecting ')' instead of '%s'", t), 2}
			}
			return "", &exprErr{"syntax error: expecting ')' after '" + p.args[p.pos-1] + "'", 2}
		}
		p.pos++
		return v, nil
	case "length":
		if p.pos+1 < len(p.args) {
			p.pos++
			s, err := p.unary()
			return strconv.Itoa(utf8.RuneCountInString(s)), err
		}
	case "match":
		if p.pos+2 < len(p.args) {
			p.pos++
			s, err := p.unary()
			if err != nil {
				return "", err
			}
			r, err := p.unary()
			if err != nil {
				return "", err
			}
			return exprMatch(s, r)
		}
	case "index":
		if p.pos+2 < len(p.args) {
			p.pos++
			s, err := p.unary()
			if err != nil {
				return "", err
			}
			chars, err := p.unary()
			if err != nil {
				return "", err
			}
			i := strings.IndexAny(s, chars)
			if i < 0 {
				return "0", nil
			}
			return strconv.Itoa(utf8.RuneCountInString(s[:i]) + 1), nil
		}
	case "substr":
		if p.pos+3 < len(p.args) {
			p.pos++
			s, err := p.unary()
			if err != nil {
				return "", err
			}
			pos, err := p.unary()
			if err != nil {
				return "", err
			}
			n, err := p.unary()
			if err != nil {
				return "", err
			}
			rs := []rune(s)
			i, err1 := strconv.Atoi(pos)
			l, err2 := strconv.Atoi(n)
			if err1 != nil || err2 != nil || i < 1 || l < 1 || i > len(rs) {
				return "", nil
			}
			end := min(len(rs), i-1+l)
			return string(rs[i-1 : end]), nil
		}
	}
	p.pos++
	return tok, nil
}
