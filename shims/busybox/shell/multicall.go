package shell

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/wasmbox/wasmbox/shims/busybox/applets"
)

// shellNames are the names under which the multi-call module is the shell.
var shellNames = []string{"sh", "ash", "bash", "dash"}

// lookupApplet finds an applet; tests replace it.
var lookupApplet = applets.Lookup

// appletNames lists the applets; tests replace it.
var appletNames = applets.Names

// Multicall is the multi-call module's entry: it runs the program named
// by the base name of args[0], with env.Exec defaulting to Exec. "sh" (and
// ash, bash, dash) is the shell; "busybox APPLET [ARG...]" runs an applet
// by name, "busybox" or "busybox --list" lists them; any other name is an
// applet, or status 127 when there is none of that name.
func Multicall(ctx context.Context, env *applets.Env, args []string) int {
	if len(args) == 0 {
		args = []string{multicallName}
	}
	if env.Exec == nil {
		e := *env
		e.Exec = Exec
		env = &e
	}
	name := filepath.Base(args[0])
	if slices.Contains(shellNames, name) {
		return Main(ctx, env, args)
	}
	if name == multicallName {
		if len(args) < 2 || args[1] == "--list" || args[1] == "--help" {
			return list(writerOr(env.Stdout), len(args) < 2 || args[1] == "--help")
		}
		return Multicall(ctx, env, args[1:])
	}
	f, ok := lookupApplet(name)
	if !ok {
		fmt.Fprintf(writerOr(env.Stderr), "%s: applet not found\n", name)
		return 127
	}
	return f(ctx, env, args)
}

func list(w io.Writer, usage bool) int {
	if usage {
		fmt.Fprint(w, "wasmbox multi-call module: the box's shell and core utilities.\n\n"+
			"Usage: busybox APPLET [ARG...]\n   or: APPLET [ARG...] (through a link named APPLET)\n\n"+
			"Applets:\n")
	}
	names := append(appletNames(), "sh")
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		fmt.Fprintln(w, n)
	}
	return 0
}

// Names lists every program name the multi-call module answers to (the
// applets and the shell's names), sorted: the links a base layer makes.
func Names() []string {
	names := append(appletNames(), shellNames...)
	slices.Sort(names)
	return slices.Compact(names)
}
