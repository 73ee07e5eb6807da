package convert_test

import (
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
