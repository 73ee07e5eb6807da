package applets

import (
	"context"
	"fmt"
	"path"
	"strings"
)

func init() {
	register("timeout", timeout)
}

// Main runs the applet named by args[0]'s base name, the way the
// multi-call binary is entered through its /bin/<name> links; called as
// "busybox", it takes the applet from args[1] ("busybox ls -l"), and
// "busybox --list" prints the applets.
func Main(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		args = []string{"busybox"}
	}
	name := path.Base(args[0])
	if name == "busybox" {
		if len(args) < 2 || args[1] == "--help" {
			fmt.Fprintf(env.Stderr, "Usage: busybox APPLET [ARG]...\nApplets: %s\n", strings.Join(Names(), " "))
			if len(args) < 2 {
				return 1
			}
			return 0
		}
		if args[1] == "--list" {
			for _, n := range Names() {
				fmt.Fprintln(env.Stdout, n)
			}
			return 0
		}
		args = args[1:]
		name = path.Base(args[0])
	}
	f, ok := Lookup(name)
	if !ok {
		fmt.Fprintf(env.Stderr, "%s: applet not found\n", name)
		return 127
	}
	return f(ctx, env, append([]string{name}, args[1:]...))
}

// timeout runs a command with a time limit (through Env.Exec, whose
// context ends at the limit): 124 when the limit was reached.
func timeout(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, rest, code, ok := c.parseOpts(&optSpec{short: "s:k:v", posix: true, usage: 125, long: map[string]string{
		"signal=": "s", "kill-after=": "k", "preserve-status": "preserve", "foreground": "fg", "verbose": "v"}}, args[1:])
	if !ok {
		return code
	}
	if len(rest) < 2 {
		if len(rest) == 0 {
			return c.fail(125, "missing operand")
		}
		return c.fail(125, "missing operand after '%s'", rest[0])
	}
	d, err := parseDuration(rest[0])
	if err != nil {
		return c.fail(125, "invalid time interval '%s'", rest[0])
	}
	cctx := ctx
	if d > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	sub := c.subEnv()
	c.ctx = cctx
	st := c.exec(sub, rest[1:])
	c.ctx = ctx
	if cctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		if o.has("v") {
			c.warnf("sending signal %s to command '%s'", o.str("s", "TERM"), rest[1])
		}
		if o.has("preserve") {
			return 128 + 15
		}
		return 124
	}
	return st
}
