package applets

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wasmbox/wasmbox/internal/envlist"
)

func init() {
	register("env", envApplet)
	register("printenv", printenv)
	register("id", id)
	register("groups", groups)
	register("which", which)
}

func envApplet(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	a := args[1:]
	// "-" alone means -i.
	for i, x := range a {
		if x == "-" {
			a[i] = "-i"
		}
		if x == "--" || !strings.HasPrefix(x, "-") {
			break
		}
	}
	o, rest, code, ok := c.parseOpts(&optSpec{short: "iu:0C:S:v", posix: true, usage: 125, long: map[string]string{
		"ignore-environment": "i", "unset=": "u", "null": "0", "chdir=": "C", "split-string=": "S",
		"debug": "v"}}, a)
	if !ok {
		return code
	}
	environ := append([]string(nil), env.Environ...)
	if o.has("i") {
		environ = nil
	}
	for _, name := range o.all("u") {
		if name == "" || strings.Contains(name, "=") {
			return c.fail(125, "cannot unset '%s': Invalid argument", name)
		}
		environ = envlist.Unset(environ, name)
	}
	if s, ok := o.val("S"); ok {
		rest = append(splitArgs(s), rest...)
	}
	for len(rest) > 0 && strings.Contains(rest[0], "=") && !strings.HasPrefix(rest[0], "=") {
		k, _, _ := strings.Cut(rest[0], "=")
		environ = append(envlist.Unset(environ, k), rest[0])
		rest = rest[1:]
	}
	if len(rest) == 0 {
		if o.has("C") {
			return c.fail(125, "must specify command with --chdir (-C)")
		}
		end := "\n"
		if o.has("0") {
			end = "\x00"
		}
		for _, kv := range environ {
			c.out.WriteString(kv + end)
		}
		return c.done()
	}
	if o.has("0") {
		return c.fail(125, "cannot specify --null (-0) with command")
	}
	sub := c.subEnv()
	sub.Environ = environ
	if d, ok := o.val("C"); ok {
		dir := c.abs(d)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			if err == nil {
				return c.fail(125, "cannot change directory to '%s': Not a directory", d)
			}
			return c.fail(125, "cannot change directory to '%s': %s", d, errText(err))
		}
		sub.Dir = dir
	}
	return c.finish(c.exec(sub, rest))
}

// splitArgs splits env -S's string on blanks, honouring quotes and
// backslashes.
func splitArgs(s string) []string {
	var r []string
	var b strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote == '\'':
			if ch == '\'' {
				quote = 0
			} else {
				b.WriteByte(ch)
			}
		case quote == '"':
			if ch == '"' {
				quote = 0
			} else if ch == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else {
				b.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote = ch
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case '_':
				b.WriteByte(' ')
			default:
				b.WriteByte(s[i])
			}
			inWord = true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				r = append(r, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		r = append(r, b.String())
	}
	return r
}

func printenv(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, names, code, ok := c.parseOpts(&optSpec{short: "0", long: map[string]string{"null": "0"}, usage: 2}, args[1:])
	if !ok {
		return code
	}
	end := "\n"
	if o.has("0") {
		end = "\x00"
	}
	if len(names) == 0 {
		for _, kv := range env.Environ {
			c.out.WriteString(kv + end)
		}
		return c.done()
	}
	status := 0
	for _, n := range names {
		v, ok := env.LookupEnv(n)
		if !ok || strings.Contains(n, "=") {
			status = 1
			continue
		}
		c.out.WriteString(v + end)
	}
	return c.finish(status)
}

// userGroups lists the groups of a user: its primary group, then those
// naming it as a member.
func userGroups(name string, gid uint32) []uint32 {
	gs := []uint32{gid}
	for _, e := range readDB(etcGroup) {
		for _, m := range e.mem {
			if m == name && e.id != gid {
				gs = append(gs, e.id)
			}
		}
	}
	return gs
}

func id(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, operands, code, ok := c.parseOpts(&optSpec{short: "ugGnrza", long: map[string]string{
		"user": "u", "group": "g", "groups": "G", "name": "n", "real": "r", "zero": "z"}}, args[1:])
	if !ok {
		return code
	}
	uid, gid := IDs()
	name := userName(uid)
	if len(operands) > 1 {
		return c.fail(1, "extra operand '%s'", operands[1])
	}
	if len(operands) == 1 {
		u, g, found := lookupUser(operands[0])
		if !found {
			return c.fail(1, "'%s': no such user", operands[0])
		}
		uid, gid = u, g
		name = userName(uid)
	}
	gs := userGroups(name, gid)
	n := o.has("n")
	sel := 0
	for _, k := range []string{"u", "g", "G"} {
		if o.has(k) {
			sel++
		}
	}
	if sel > 1 {
		return c.fail(1, "cannot print \"only\" of more than one choice")
	}
	if n && sel == 0 {
		return c.fail(1, "cannot print only names or real IDs in default format")
	}
	switch {
	case o.has("u"):
		if n {
			c.out.WriteString(userName(uid) + "\n")
		} else {
			c.out.WriteString(strconv.FormatUint(uint64(uid), 10) + "\n")
		}
	case o.has("g"):
		if n {
			c.out.WriteString(groupName(gid) + "\n")
		} else {
			c.out.WriteString(strconv.FormatUint(uint64(gid), 10) + "\n")
		}
	case o.has("G"):
		var parts []string
		for _, g := range gs {
			if n {
				parts = append(parts, groupName(g))
			} else {
				parts = append(parts, strconv.FormatUint(uint64(g), 10))
			}
		}
		c.out.WriteString(strings.Join(parts, " ") + "\n")
	default:
		var parts []string
		for _, g := range gs {
			parts = append(parts, idWithName(g, groupName(g)))
		}
		c.out.WriteString("uid=" + idWithName(uid, userName(uid)) + " gid=" + idWithName(gid, groupName(gid)) +
			" groups=" + strings.Join(parts, ",") + "\n")
	}
	return c.done()
}

func idWithName(id uint32, name string) string {
	s := strconv.FormatUint(uint64(id), 10)
	if name != s {
		s += "(" + name + ")"
	}
	return s
}

func groups(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	users := args[1:]
	if len(users) == 0 {
		users = []string{""}
	}
	for _, u := range users {
		uid, gid := IDs()
		name := userName(uid)
		if u != "" {
			uid, g, found := lookupUser(u)
			if !found {
				c.errorf("'%s': no such user", u)
				continue
			}
			name, gid = userName(uid), g
		}
		var parts []string
		for _, g := range userGroups(name, gid) {
			parts = append(parts, groupName(g))
		}
		if u != "" {
			c.out.WriteString(u + " : ")
		}
		c.out.WriteString(strings.Join(parts, " ") + "\n")
	}
	return c.done()
}

// lookPath finds an executable in the box the way a shell would.
func (c *cmd) lookPath(name string, all bool) []string {
	isExec := func(p string) bool {
		fi, err := Stat(p)
		return err == nil && isExecutable(fi)
	}
	if strings.Contains(name, "/") {
		if isExec(c.abs(name)) {
			return []string{name}
		}
		return nil
	}
	var found []string
	for _, dir := range filepath.SplitList(c.env.Getenv("PATH")) {
		shown := dir
		if dir == "" {
			dir, shown = ".", "."
		}
		p := filepath.Join(c.abs(dir), name)
		if isExec(p) {
			found = append(found, filepath.Join(shown, name))
			if !all {
				break
			}
		}
	}
	return found
}

func which(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, names, code, ok := c.parseOpts(&optSpec{short: "as"}, args[1:])
	if !ok {
		return code
	}
	status := 0
	if len(names) == 0 {
		status = 1
	}
	for _, n := range names {
		found := c.lookPath(n, o.has("a"))
		if len(found) == 0 {
			status = 1
			continue
		}
		if !o.has("s") {
			for _, p := range found {
				c.out.WriteString(p + "\n")
			}
		}
	}
	return c.finish(status)
}
