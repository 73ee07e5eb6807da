package applets

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Small applets: true, false, pwd, yes, nproc, sync, hostname, whoami,
// uname, arch, tty, basename, dirname.

func init() {
	register("true", func(context.Context, *Env, []string) int { return 0 })
	register("false", func(context.Context, *Env, []string) int { return 1 })
	register("pwd", pwd)
	register("yes", yes)
	register("nproc", nproc)
	register("sync", func(context.Context, *Env, []string) int { return 0 })
	register("hostname", hostname)
	register("whoami", whoami)
	register("uname", uname)
	register("arch", func(ctx context.Context, env *Env, args []string) int {
		return uname(ctx, env, []string{args[0], "-m"})
	})
	register("tty", tty)
	register("basename", basename)
	register("dirname", dirname)
}

func pwd(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	if _, _, code, ok := c.parseOpts(&optSpec{short: "LP"}, args[1:]); !ok {
		return code
	}
	c.out.WriteString(env.Dir + "\n")
	return c.done()
}

func yes(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	line := "y\n"
	if len(args) > 1 {
		line = strings.Join(args[1:], " ") + "\n"
	}
	for !c.broken() {
		c.out.WriteString(line)
	}
	return c.finish(0)
}

func nproc(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, _, code, ok := c.parseOpts(&optSpec{long: map[string]string{"all": "all", "ignore=": "ignore"}}, args[1:])
	if !ok {
		return code
	}
	n := runtime.NumCPU()
	if v, err := strconv.Atoi(env.Getenv("OMP_NUM_THREADS")); err == nil && v > 0 && !o.has("all") {
		n = v
	}
	if s, ok := o.val("ignore"); ok {
		k, err := strconv.Atoi(s)
		if err != nil || k < 0 {
			return c.fail(1, "invalid number: '%s'", s)
		}
		n -= k
	}
	c.out.WriteString(strconv.Itoa(max(n, 1)) + "\n")
	return c.done()
}

// nodename is the box's host name: $HOSTNAME, else "wasmbox".
func nodename(env *Env) string {
	if h, ok := Hostname(); ok && h != "" {
		return h
	}
	if h := env.Getenv("HOSTNAME"); h != "" {
		return h
	}
	return "wasmbox"
}

func hostname(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "sfdi", long: map[string]string{"short": "s", "fqdn": "f", "long": "f", "domain": "d", "ip-address": "i"}}, args[1:])
	if !ok {
		return code
	}
	if len(operands) > 0 {
		return c.fail(1, "you must be root to change the host name")
	}
	h := nodename(env)
	switch {
	case o.has("s"):
		h, _, _ = strings.Cut(h, ".")
	case o.has("d"):
		_, h, _ = strings.Cut(h, ".")
	case o.has("i"):
		h = "127.0.0.1"
	}
	c.out.WriteString(h + "\n")
	return c.done()
}

func whoami(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	if len(args) > 1 {
		return c.fail(1, "extra operand '%s'", args[1])
	}
	uid, _ := IDs()
	c.out.WriteString(userName(uid) + "\n")
	return c.done()
}

func uname(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "asnrvmpio", long: map[string]string{
		"all": "a", "kernel-name": "s", "nodename": "n", "kernel-release": "r", "kernel-version": "v",
		"machine": "m", "processor": "p", "hardware-platform": "i", "operating-system": "o"}}, args[1:])
	if !ok {
		return code
	}
	if len(operands) > 0 {
		return c.fail(1, "extra operand '%s'", operands[0])
	}
	fields := []struct {
		key, val string
	}{
		{"s", "WASI"}, {"n", nodename(env)}, {"r", "preview1"}, {"v", "wasip1"},
		{"m", "wasm32"}, {"p", "unknown"}, {"i", "unknown"}, {"o", "WASI"},
	}
	var out []string
	all := o.has("a")
	any := false
	for _, f := range fields {
		if o.has(f.key) {
			any = true
		}
	}
	for _, f := range fields {
		if (all && f.val != "unknown") || o.has(f.key) {
			out = append(out, f.val)
		}
	}
	if !all && !any {
		out = []string{"WASI"}
	}
	c.out.WriteString(strings.Join(out, " ") + "\n")
	return c.done()
}

func tty(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, _, code, ok := c.parseOpts(&optSpec{short: "s", long: map[string]string{"silent": "s", "quiet": "s"}, usage: 2}, args[1:])
	if !ok {
		return code
	}
	if !o.has("s") {
		c.out.WriteString("not a tty\n")
	}
	return c.finish(1)
}

// baseName is basename(1)'s idea of the last element of p.
func baseName(p string) string {
	if p == "" {
		return ""
	}
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "/"
	}
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// dirName is dirname(1)'s idea of the directory of p.
func dirName(p string) string {
	if p == "" {
		return "."
	}
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "/"
	}
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "."
	}
	d := strings.TrimRight(p[:i], "/")
	if d == "" {
		return "/"
	}
	return d
}

func basename(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "as:z", long: map[string]string{"multiple": "a", "suffix=": "s", "zero": "z"}}, args[1:])
	if !ok {
		return code
	}
	if len(operands) == 0 {
		return c.fail(1, "missing operand")
	}
	suffix, multiple := o.str("s", ""), o.has("a") || o.has("s")
	if !multiple {
		if len(operands) > 2 {
			return c.fail(1, "extra operand '%s'", operands[2])
		}
		if len(operands) == 2 {
			suffix = operands[1]
		}
		operands = operands[:1]
	}
	end := "\n"
	if o.has("z") {
		end = "\x00"
	}
	for _, p := range operands {
		b := baseName(p)
		if suffix != "" && b != suffix && strings.HasSuffix(b, suffix) {
			b = strings.TrimSuffix(b, suffix)
		}
		c.out.WriteString(b + end)
	}
	return c.done()
}

func dirname(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "z", long: map[string]string{"zero": "z"}}, args[1:])
	if !ok {
		return code
	}
	if len(operands) == 0 {
		return c.fail(1, "missing operand")
	}
	end := "\n"
	if o.has("z") {
		end = "\x00"
	}
	for _, p := range operands {
		c.out.WriteString(dirName(p) + end)
	}
	return c.done()
}

// isExecutable reports whether fi is a file a box process may execute.
func isExecutable(fi os.FileInfo) bool {
	return fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
