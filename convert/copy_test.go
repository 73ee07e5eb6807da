package convert_test

import (
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/oci"
)

// COPY --chown follows BuildKit's readUser: a user or group the box does
// not list is not an error (issue 10: real Dockerfiles rely on it).
func TestCopyChown(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := writeCase(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN echo 'web:x:33:34::/var/www:/bin/sh' >> /etc/passwd && echo 'staff:x:50:' >> /etc/group
COPY --chown=app:app a.txt /missing-user
COPY --chown=app a.txt /missing-user-only
COPY --chown=1000 a.txt /numeric
COPY --chown=1000:7 a.txt /numeric-group
COPY --chown=web a.txt /name
COPY --chown=web:nosuchgroup a.txt /name-missing-group
COPY --chown=web:staff a.txt /name-group
COPY --chown=app:staff a.txt /missing-user-group
CMD stat -c '%n %u:%g' /missing-user /missing-user-only /numeric /numeric-group /name /name-missing-group /name-group /missing-user-group
`,
		"a.txt": "a",
	})
	res, err := build(t, store, dir, convert.WithTags("chown"))
	if err != nil {
		t.Fatal(err)
	}
	want := `/missing-user 0:0
/missing-user-only 0:0
/numeric 1000:1000
/numeric-group 1000:7
/name 33:34
/name-missing-group 33:34
/name-group 33:50
/missing-user-group 0:50
`
	if got := runDefault(t, store, res); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// A source pattern that matches nothing copies nothing, as BuildKit allows
// (AllowEmptyWildcard); a missing source named in full is still an error,
// labelled with the instruction that failed.
func TestCopyEmptyWildcard(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := writeCase(t, map[string]string{
		"Dockerfile": `FROM busybox
WORKDIR /app
COPY pyproject.toml poetry.lock* ./
COPY ./package[s] ./packages
ADD *.tar.gz /opt/
CMD find /app | sort; test -e /opt || echo no /opt
`,
		"pyproject.toml": "[project]\n",
	})
	res, err := build(t, store, dir, convert.WithTags("wild"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := runDefault(t, store, res), "/app\n/app/pyproject.toml\nno /opt\n"; got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	for _, c := range []struct{ instr, want string }{
		{"COPY nothere /x", "Dockerfile:2: COPY nothere: not found in the build context"},
		{"ADD nothere /x", "Dockerfile:2: ADD nothere: not found in the build context"},
		{"ADD a.txt b.txt /x", "Dockerfile:2: ADD: with more than one source the destination must be a directory"},
		{"ADD [ /x", "Dockerfile:2: ADD [: bad pattern"},
	} {
		dir := writeCase(t, map[string]string{"Dockerfile": "FROM busybox\n" + c.instr + "\n", "a.txt": "a", "b.txt": "b"})
		_, err := build(t, store, dir)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant prefix %q", c.instr, err, c.want)
		}
	}
}
