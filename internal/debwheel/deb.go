package debwheel

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// control is the part of a package's control file the converter reads.
type control struct {
	Package, Version, Architecture, Depends string
}

// readControl reads the control file of the .deb at path (dpkg-deb -f).
func readControl(ctx context.Context, path string) (control, error) {
	out, err := exec.CommandContext(ctx, "dpkg-deb", "-f", path).Output()
	if err != nil {
		return control{}, fmt.Errorf("dpkg-deb -f %s: %w%s", path, err, stderrOf(err))
	}
	return parseControl(out)
}

func parseControl(data []byte) (control, error) {
	fields := map[string]string{}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last != "" {
				fields[last] += "\n" + line
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return control{}, fmt.Errorf("control file: line %q is no field", line)
		}
		last = strings.ToLower(k)
		fields[last] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return control{}, err
	}
	c := control{Package: fields["package"], Version: fields["version"], Architecture: fields["architecture"], Depends: fields["depends"]}
	if c.Package == "" || c.Version == "" {
		return control{}, fmt.Errorf("control file names no Package or Version")
	}
	return c, nil
}

// dataTar returns the data archive of the .deb at path as a tar stream
// (dpkg-deb --fsys-tarfile, which knows every compression dpkg does).
func dataTar(ctx context.Context, path string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", path).Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w%s", path, err, stderrOf(err))
	}
	return out, nil
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// dependency is one alternative of a Depends group: python3-foo (>= 1.2).
type dependency struct {
	Name, Op, Version string
}

// parseDepends splits a Depends field into groups of alternatives.
func parseDepends(s string) ([][]dependency, error) {
	var groups [][]dependency
	for _, g := range strings.Split(s, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		var alts []dependency
		for _, a := range strings.Split(g, "|") {
			d, err := parseDependency(strings.TrimSpace(a))
			if err != nil {
				return nil, fmt.Errorf("Depends %q: %w", g, err)
			}
			alts = append(alts, d)
		}
		groups = append(groups, alts)
	}
	return groups, nil
}

func parseDependency(s string) (dependency, error) {
	name, rest, _ := strings.Cut(s, " ")
	name, _, _ = strings.Cut(name, ":") // python3:any
	var d dependency
	d.Name = name
	rest = strings.TrimSpace(rest)
	if i := strings.Index(rest, "["); i >= 0 { // architecture restrictions
		rest = strings.TrimSpace(rest[:i])
	}
	if rest == "" {
		return d, validName(name)
	}
	if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return d, fmt.Errorf("%q: want NAME (OP VERSION)", s)
	}
	rel := strings.TrimSpace(rest[1 : len(rest)-1])
	for _, op := range []string{">=", "<=", ">>", "<<", "="} {
		if v, ok := strings.CutPrefix(rel, op); ok {
			d.Op, d.Version = op, strings.TrimSpace(v)
			break
		}
	}
	if d.Op == "" || d.Version == "" {
		return d, fmt.Errorf("%q: want NAME (OP VERSION)", s)
	}
	return d, validName(name)
}

func validName(name string) error {
	if name == "" {
		return fmt.Errorf("empty package name")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return fmt.Errorf("package name %q", name)
		}
	}
	return nil
}

// pep440 turns a Debian version into the upstream version a Python
// requirement can name: no epoch, no Debian revision, nothing after + or
// ~ (a repack, a backport). ok is false when what is left is no plain
// release number.
func pep440(debVersion string) (string, bool) {
	v := debVersion
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	if i := strings.LastIndex(v, "-"); i >= 0 {
		v = v[:i]
	}
	if i := strings.IndexAny(v, "+~"); i >= 0 {
		v = v[:i]
	}
	if v == "" || v[0] == '.' || v[len(v)-1] == '.' || strings.Contains(v, "..") {
		return "", false
	}
	for _, r := range v {
		if !(r >= '0' && r <= '9' || r == '.') {
			return "", false
		}
	}
	return v, true
}
