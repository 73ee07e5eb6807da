package convert_test

import (
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/oci"
)

// A box of the store is an image like any other: FROM it inherits its
// layers, config and ONBUILD triggers; COPY --from and RUN --mount from=
// read its files.
func TestBoxOfTheStoreAsImage(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tool := writeCase(t, map[string]string{"Dockerfile": `FROM alpine:3.20
ENV TOOL_HOME=/opt/tool
RUN mkdir -p /opt/tool && printf '#!/bin/sh\necho "tool says $*"\n' > /opt/tool/tool.sh && chmod +x /opt/tool/tool.sh
ONBUILD RUN echo triggered > /onbuild.txt
`})
	if _, err := build(t, store, tool, convert.WithTags("example.com/tool:1")); err != nil {
		t.Fatal(err)
	}
	app := writeCase(t, map[string]string{"Dockerfile": `FROM example.com/tool:1 AS based
RUN /opt/tool/tool.sh "$TOOL_HOME" > /from.txt

FROM busybox
COPY --from=example.com/tool:1 /opt/tool/tool.sh /usr/local/bin/
RUN --mount=type=bind,from=example.com/tool:1,source=/opt/tool,target=/t cat /t/tool.sh | wc -l > /lines.txt
COPY --from=based /from.txt /onbuild.txt /
COPY --from=alpine:3.20 /etc/os-release /alpine-os-release
CMD tool.sh copied; cat /from.txt /onbuild.txt /lines.txt; test -s /alpine-os-release && echo os-release copied
`})
	res, err := build(t, store, app, convert.WithTags("app"))
	if err != nil {
		t.Fatal(err)
	}
	got := runDefault(t, store, res)
	want := "tool says copied\ntool says /opt/tool\ntriggered\n2\nos-release copied\n"
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	// Unknown names still fail, naming what was looked for.
	bad := writeCase(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY --from=example.com/nosuch:1 /x /x\n"})
	if _, err := build(t, store, bad); err == nil || !strings.Contains(err.Error(), `Dockerfile:2: COPY --from=example.com/nosuch:1: no earlier stage is named "example.com/nosuch:1", and no box`) {
		t.Errorf("unknown image: %v", err)
	}
}
