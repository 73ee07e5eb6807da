package debwheel

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// sitePackages is where Debian installs the python3-* packages' modules.
const sitePackages = "usr/lib/python3/dist-packages/"

// Bounds on one package, well above any of Debian's pure-Python ones (a
// variable so that the fuzz test can lower it).
var (
	maxFiles     = 50_000
	maxTotalSize = int64(256 << 20)
)

// Wheel is one wheel Convert wrote.
type Wheel struct {
	// Package and DebVersion are the Debian package it was made from.
	Package, DebVersion string
	// Name and Version are the distribution's, from its metadata.
	Name, Version string
	// File is the wheel's path.
	File string
	// Requires are its Requires-Dist lines without an extra.
	Requires []string
	// Omitted are the compiled modules left out, each with the reason.
	Omitted []string
	// Dropped are the Depends not made requirements, each with the reason.
	Dropped []string
}

// Wheels fetches pins (Fetch, into cacheDir) and converts them into
// wheels in outDir (Convert).
func Wheels(ctx context.Context, cacheDir string, pins []Pin, outDir string) ([]Wheel, error) {
	debs, err := Fetch(ctx, cacheDir, pins)
	if err != nil {
		return nil, err
	}
	return Convert(ctx, debs, pins, outDir)
}

// Convert makes a wheel in outDir of each .deb in debs, whose Pin is the
// one of pins at the same index. Each wheel requires what its package
// Depends on (python3-* packages, as their distributions' names, with the
// version bounds), less its Pin's Drop; a python3-* package depended on
// that is not among debs is an error, so pins must be closed.
func Convert(ctx context.Context, debs []string, pins []Pin, outDir string) ([]Wheel, error) {
	if len(debs) != len(pins) {
		return nil, fmt.Errorf("%d packages, %d pins", len(debs), len(pins))
	}
	dists := make([]*dist, len(debs))
	for i, path := range debs {
		ctl, err := readControl(ctx, path)
		if err != nil {
			return nil, err
		}
		if ctl.Package != pins[i].Package || ctl.Version != pins[i].Version {
			return nil, fmt.Errorf("%s is %s %s, not the pinned %s %s", path, ctl.Package, ctl.Version, pins[i].Package, pins[i].Version)
		}
		data, err := dataTar(ctx, path)
		if err != nil {
			return nil, err
		}
		d, err := readDist(ctl, bytes.NewReader(data), pins[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		dists[i] = d
	}
	names := map[string]string{}
	for _, d := range dists {
		names[d.ctl.Package] = d.name
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	wheels := make([]Wheel, len(dists))
	for i, d := range dists {
		if err := d.require(names, pins[i]); err != nil {
			return nil, err
		}
		w, err := d.writeWheel(outDir)
		if err != nil {
			return nil, err
		}
		wheels[i] = w
	}
	return wheels, nil
}

// file is one regular file of a package.
type file struct {
	data []byte
	exec bool
}

// dist is what a python3-* package holds for a wheel.
type dist struct {
	ctl control
	// name and version: the metadata's Name and Version.
	name, version string
	// files: the modules and data, by path under dist-packages.
	files map[string]file
	// meta: the package's egg-info or dist-info directory's name, and its
	// files by base name.
	metaDir string
	meta    map[string][]byte
	// header and body of its METADATA (or PKG-INFO).
	header []string
	body   string
	// requires: the Requires-Dist lines the wheel gets.
	requires []string
	omitted  []string
	dropped  []string
}

// readDist reads the data archive of a package: the files under
// dist-packages, its one egg-info or dist-info. Anything else of the
// package (scripts in /usr/bin, docs) is left out; entries anywhere
// that are absolute, climb out with "..", or are devices, and links that
// leave dist-packages, are errors.
func readDist(ctl control, data io.Reader, pin Pin) (*dist, error) {
	d := &dist{ctl: ctl, files: map[string]file{}, meta: map[string][]byte{}}
	links := map[string]string{} // path under dist-packages -> target, the same way
	seen := map[string]bool{}
	var total int64
	tr := tar.NewReader(data)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("data archive: %w", err)
		}
		if n >= maxFiles {
			return nil, fmt.Errorf("data archive: more than %d entries", maxFiles)
		}
		name, err := entryName(h.Name)
		if err != nil {
			return nil, err
		}
		if name == "" || h.Typeflag == tar.TypeDir {
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("data archive: %q appears twice", h.Name)
		}
		seen[name] = true
		rel, ok := strings.CutPrefix(name, sitePackages)
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
		default:
			return nil, fmt.Errorf("data archive: %q is a %s, not a file or a link", h.Name, typeName(h.Typeflag))
		}
		if !ok {
			continue // not a module: /usr/bin, /usr/share/doc, ...
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			if path.IsAbs(h.Linkname) {
				return nil, fmt.Errorf("data archive: %q links out of dist-packages (absolute target %q)", h.Name, h.Linkname)
			}
			target := path.Join(path.Dir(name), h.Linkname)
			t, ok := strings.CutPrefix(target, sitePackages)
			if !ok || !validPath(t) {
				return nil, fmt.Errorf("data archive: %q links out of dist-packages (to %q)", h.Name, h.Linkname)
			}
			links[rel] = t
		case tar.TypeLink:
			target, err := entryName(h.Linkname)
			if err != nil {
				return nil, err
			}
			t, ok := strings.CutPrefix(target, sitePackages)
			if !ok || !validPath(t) {
				return nil, fmt.Errorf("data archive: %q is a hard link out of dist-packages (to %q)", h.Name, h.Linkname)
			}
			links[rel] = t
		case tar.TypeReg:
			if h.Size < 0 || total+h.Size > maxTotalSize {
				return nil, fmt.Errorf("data archive: more than %d bytes of files", maxTotalSize)
			}
			total += h.Size
			b, err := io.ReadAll(io.LimitReader(tr, h.Size))
			if err != nil {
				return nil, fmt.Errorf("data archive: %q: %w", h.Name, err)
			}
			d.files[rel] = file{data: b, exec: h.Mode&0o111 != 0}
		}
	}
	// A link becomes a copy of the file it names in the package (a wheel
	// holds no links); a chain of links is followed a few steps.
	for rel, t := range links {
		for i := 0; i < 8; i++ {
			if next, ok := links[t]; ok {
				t = next
				continue
			}
			break
		}
		f, ok := d.files[t]
		if !ok {
			return nil, fmt.Errorf("data archive: link %q names %q, no file of the package", sitePackages+rel, sitePackages+t)
		}
		d.files[rel] = f
	}
	if err := d.takeMeta(); err != nil {
		return nil, err
	}
	if err := d.dropNative(pin); err != nil {
		return nil, err
	}
	return d, nil
}

// entryName cleans an archive entry's name to a relative path: "./a/b"
// and "a/b" are "a/b"; "." is "". Absolute names and ".." are errors.
func entryName(n string) (string, error) {
	if strings.HasPrefix(n, "/") {
		return "", fmt.Errorf("data archive: %q is an absolute path", n)
	}
	n = strings.TrimPrefix(n, "./")
	n = strings.TrimSuffix(n, "/")
	if n == "" || n == "." {
		return "", nil
	}
	if !validPath(n) {
		return "", fmt.Errorf("data archive: %q is not a plain relative path (.., empty or odd parts)", n)
	}
	return n, nil
}

// validPath reports whether p is a relative slash path of plain names:
// no "..", ".", empty part, backslash or NUL.
func validPath(p string) bool {
	if p == "" || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

func typeName(t byte) string {
	switch t {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("tar entry of type %q", t)
}

// takeMeta moves the one .egg-info or .dist-info out of files, and reads
// the name and version from its metadata.
func (d *dist) takeMeta() error {
	dirs := map[string]bool{}
	for rel := range d.files {
		top, _, _ := strings.Cut(rel, "/")
		if strings.HasSuffix(top, ".egg-info") || strings.HasSuffix(top, ".dist-info") {
			dirs[top] = true
		}
	}
	if len(dirs) != 1 {
		var l []string
		for k := range dirs {
			l = append(l, k)
		}
		sort.Strings(l)
		return fmt.Errorf("want one .egg-info or .dist-info in dist-packages, found %d %v", len(dirs), l)
	}
	for k := range dirs {
		d.metaDir = k
	}
	for rel, f := range d.files {
		if rel == d.metaDir { // an egg-info that is one file: PKG-INFO
			d.meta["PKG-INFO"] = f.data
			delete(d.files, rel)
			continue
		}
		if sub, ok := strings.CutPrefix(rel, d.metaDir+"/"); ok {
			d.meta[sub] = f.data
			delete(d.files, rel)
		}
	}
	for rel := range d.files { // .pyc: Debian makes them at install time
		if strings.HasSuffix(rel, ".pyc") || strings.Contains("/"+rel, "/__pycache__/") {
			delete(d.files, rel)
		}
	}
	raw, ok := d.meta["METADATA"]
	if strings.HasSuffix(d.metaDir, ".egg-info") {
		raw, ok = d.meta["PKG-INFO"]
	}
	if !ok {
		return fmt.Errorf("%s has no metadata file", d.metaDir)
	}
	header, body, err := splitMetadata(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", d.metaDir, err)
	}
	d.header, d.body = header, body
	d.name, d.version = headerValue(header, "Name"), headerValue(header, "Version")
	if !distName.MatchString(d.name) {
		return fmt.Errorf("%s: Name %q is no distribution name", d.metaDir, d.name)
	}
	if !distVersion.MatchString(d.version) {
		return fmt.Errorf("%s: Version %q is no version a wheel's name can hold", d.metaDir, d.version)
	}
	if headerValue(header, "Metadata-Version") == "" {
		return fmt.Errorf("%s: no Metadata-Version", d.metaDir)
	}
	return nil
}

var (
	distName    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	distVersion = regexp.MustCompile(`^[A-Za-z0-9.!+]+$`)
	escapeRun   = regexp.MustCompile(`[-_.]+`)
)

// splitMetadata splits a METADATA or PKG-INFO file into its header
// fields (one string each, continuation lines included) and its body.
func splitMetadata(raw []byte) ([]string, string, error) {
	s := strings.ReplaceAll(string(raw), "\r\n", "\n")
	head, body, _ := strings.Cut(s, "\n\n")
	var fields []string
	for _, line := range strings.Split(head, "\n") {
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fields) == 0 {
				return nil, "", errors.New("metadata starts with a continuation line")
			}
			fields[len(fields)-1] += "\n" + line
			continue
		}
		if !strings.Contains(line, ":") {
			return nil, "", fmt.Errorf("metadata line %q is no field", line)
		}
		fields = append(fields, line)
	}
	return fields, body, nil
}

func headerValue(fields []string, key string) string {
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ":")
		if strings.EqualFold(k, key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// native reports whether a file is a compiled extension module.
func native(rel string) bool {
	base := path.Base(rel)
	return strings.HasSuffix(base, ".so") || strings.Contains(base, ".so.") ||
		strings.HasSuffix(base, ".pyd") || strings.HasSuffix(base, ".dylib")
}

// dropNative leaves out the compiled modules the pin omits, and refuses
// the package if others are left.
func (d *dist) dropNative(pin Pin) error {
	var refused []string
	for rel := range d.files {
		if !native(rel) {
			continue
		}
		why, ok := omitted(pin, rel)
		if !ok {
			refused = append(refused, rel)
			continue
		}
		delete(d.files, rel)
		d.omitted = append(d.omitted, rel+": "+why)
	}
	sort.Strings(d.omitted)
	if len(refused) > 0 {
		sort.Strings(refused)
		return fmt.Errorf("%s has compiled modules %s: a pure-Python wheel cannot hold them (if they are optional speedups with a pure-Python fallback, name them in the pin's Omit)", d.ctl.Package, strings.Join(refused, ", "))
	}
	return nil
}

func omitted(pin Pin, rel string) (string, bool) {
	for pattern, why := range pin.Omit {
		if ok, _ := path.Match(pattern, rel); ok {
			return why, true
		}
	}
	return "", false
}

// require makes the wheel's Requires-Dist from the package's Depends:
// each python3-* package it names becomes that package's distribution
// (names maps them), with the version bound; "python3-x | python3 (>>
// 3.8)" becomes x with the marker python_version < "3.8" (or nothing when
// x is not pinned: the box's Python is newer). Depends on
// python3 itself and on other packages (ca-certificates) are no Python
// requirement; the pin's Drop are left out.
func (d *dist) require(names map[string]string, pin Pin) error {
	groups, err := parseDepends(d.ctl.Depends)
	if err != nil {
		return fmt.Errorf("%s: %w", d.ctl.Package, err)
	}
	for _, alts := range groups {
		var py []dependency
		interpreter, marker := false, ""
		for _, a := range alts {
			switch {
			case a.Name == "python3":
				switch {
				case a.Op == "":
					interpreter = true
				case a.Op == ">>" || a.Op == ">=":
					v, ok := pep440(a.Version)
					if !ok {
						return fmt.Errorf("%s: Depends on python3 (%s %s): no Python version", d.ctl.Package, a.Op, a.Version)
					}
					marker = fmt.Sprintf(`python_version < "%s"`, v)
				default:
					return fmt.Errorf("%s: Depends on python3 (%s %s) is not understood", d.ctl.Package, a.Op, a.Version)
				}
			case strings.HasPrefix(a.Name, "python3-"):
				py = append(py, a)
			}
		}
		if interpreter || len(py) == 0 {
			if len(py) == 0 && !interpreter && marker == "" {
				d.dropped = append(d.dropped, alts[0].Name+": not a Python package")
			}
			continue
		}
		a := py[0]
		if why, ok := pin.Drop[a.Name]; ok {
			d.dropped = append(d.dropped, a.Name+": "+why)
			continue
		}
		name, ok := names[a.Name]
		for _, alt := range py[1:] {
			if !ok {
				a = alt
				name, ok = names[a.Name]
			}
		}
		if !ok && marker != "" {
			d.dropped = append(d.dropped, py[0].Name+": not pinned, and only Python before "+strings.Trim(strings.TrimPrefix(marker, "python_version < "), `"`)+" needs it")
			continue
		}
		if !ok {
			return fmt.Errorf("%s depends on %s, which is not pinned: add it to the pins, or to %s's Drop with the reason", d.ctl.Package, py[0].Name, d.ctl.Package)
		}
		req := name
		if v, ok := pep440(a.Version); ok && a.Op != "" {
			req += map[string]string{">=": ">=", "<=": "<=", ">>": ">", "<<": "<", "=": "=="}[a.Op] + v
		}
		if marker != "" {
			req += "; " + marker
		}
		d.requires = append(d.requires, req)
	}
	return nil
}

// metadata is the wheel's METADATA: the package's own fields but its
// Requires-Dist without an extra, then the Depends-made ones and, for an
// egg-info, its requires.txt's extras.
func (d *dist) metadata() ([]byte, error) {
	var b bytes.Buffer
	hasExtras := false // a newer egg-info's PKG-INFO has them already
	for _, f := range d.header {
		k, v, _ := strings.Cut(f, ":")
		if strings.EqualFold(k, "Requires-Dist") {
			_, marker, _ := strings.Cut(v, ";")
			if !strings.Contains(marker, "extra") {
				continue
			}
			hasExtras = true
		}
		b.WriteString(f + "\n")
	}
	for _, r := range d.requires {
		fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
	}
	if req, ok := d.meta["requires.txt"]; ok && strings.HasSuffix(d.metaDir, ".egg-info") && !hasExtras {
		extras, err := eggExtras(req)
		if err != nil {
			return nil, fmt.Errorf("%s/requires.txt: %w", d.metaDir, err)
		}
		provided := map[string]bool{}
		for _, f := range d.header {
			if k, v, _ := strings.Cut(f, ":"); strings.EqualFold(k, "Provides-Extra") {
				provided[strings.TrimSpace(v)] = true
			}
		}
		for _, e := range extras {
			if !provided[e.extra] {
				provided[e.extra] = true
				fmt.Fprintf(&b, "Provides-Extra: %s\n", e.extra)
			}
		}
		for _, e := range extras {
			for _, r := range e.reqs {
				fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
			}
		}
	}
	b.WriteString("\n")
	b.WriteString(d.body)
	return b.Bytes(), nil
}

type eggExtra struct {
	extra string
	reqs  []string
}

// eggExtras reads the [extra] and [extra:marker] sections of an
// egg-info's requires.txt as Requires-Dist lines; the lines outside an
// extra are the ones Depends stands for.
func eggExtras(raw []byte) ([]eggExtra, error) {
	var out []eggExtra
	var cur *eggExtra
	var marker string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("section %q", line)
			}
			extra, m, _ := strings.Cut(line[1:len(line)-1], ":")
			cur, marker = nil, m
			if extra == "" {
				continue
			}
			if !distName.MatchString(extra) {
				return nil, fmt.Errorf("extra %q", extra)
			}
			if len(out) == 0 || out[len(out)-1].extra != extra {
				out = append(out, eggExtra{extra: extra})
			}
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		if strings.ContainsAny(line, ";\n") {
			return nil, fmt.Errorf("requirement %q", line)
		}
		m := fmt.Sprintf(`extra == "%s"`, cur.extra)
		if marker != "" {
			m = "(" + marker + ") and " + m
		}
		cur.reqs = append(cur.reqs, line+"; "+m)
	}
	return out, sc.Err()
}

// wheelName is PEP 427's escaping of a name or version for a file name.
func wheelName(s string) string {
	return strings.ToLower(escapeRun.ReplaceAllString(s, "_"))
}

// zipTime is every entry's time: wheels are the same bytes each time.
var zipTime = time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC)

func (d *dist) writeWheel(outDir string) (Wheel, error) {
	name, version := wheelName(d.name), strings.ReplaceAll(d.version, "-", "_")
	info := name + "-" + version + ".dist-info/"
	type entry struct {
		name string
		f    file
	}
	var entries []entry
	for rel, f := range d.files {
		entries = append(entries, entry{rel, f})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	meta, err := d.metadata()
	if err != nil {
		return Wheel{}, err
	}
	entries = append(entries, entry{info + "METADATA", file{data: meta}})
	wheel := "Wheel-Version: 1.0\nGenerator: wasmbox-debwheel (from " + d.ctl.Package + " " + d.ctl.Version + ")\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n"
	entries = append(entries, entry{info + "WHEEL", file{data: []byte(wheel)}})
	for _, k := range []string{"entry_points.txt", "top_level.txt"} {
		if b, ok := d.meta[k]; ok {
			entries = append(entries, entry{info + k, file{data: b}})
		}
	}
	if strings.HasSuffix(d.metaDir, ".dist-info") { // licenses and such
		var more []string
		for k := range d.meta {
			switch k {
			case "METADATA", "WHEEL", "RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "entry_points.txt", "top_level.txt":
				continue
			}
			more = append(more, k)
		}
		sort.Strings(more)
		for _, k := range more {
			entries = append(entries, entry{info + k, file{data: d.meta[k]}})
		}
	}
	var record bytes.Buffer
	rw := csv.NewWriter(&record)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, f file) error {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipTime}
		mode := os.FileMode(0o644)
		if f.exec {
			mode = 0o755
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		_, err = w.Write(f.data)
		return err
	}
	for _, e := range entries {
		sum := sha256.Sum256(e.f.data)
		rw.Write([]string{e.name, "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]), fmt.Sprint(len(e.f.data))})
		if err := add(e.name, e.f); err != nil {
			return Wheel{}, err
		}
	}
	rw.Write([]string{info + "RECORD", "", ""})
	rw.Flush()
	if err := add(info+"RECORD", file{data: record.Bytes()}); err != nil {
		return Wheel{}, err
	}
	if err := zw.Close(); err != nil {
		return Wheel{}, err
	}
	out := filepath.Join(outDir, name+"-"+version+"-py3-none-any.whl")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return Wheel{}, err
	}
	return Wheel{
		Package: d.ctl.Package, DebVersion: d.ctl.Version,
		Name: d.name, Version: d.version, File: out,
		Requires: d.requires, Omitted: d.omitted, Dropped: d.dropped,
	}, nil
}
