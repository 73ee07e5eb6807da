package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	digest "github.com/opencontainers/go-digest"

	"github.com/wasmbox/wasmbox/oci"
)

func TestBlobProgress(t *testing.T) {
	a := digest.FromString("a")
	b := digest.FromString("b")
	var out strings.Builder
	show := blobProgress(&out, "pull")
	show(oci.Progress{Digest: a, Size: 2 << 20, Done: 1 << 20})
	show(oci.Progress{Digest: b, Size: 100, State: oci.Exists})
	show(oci.Progress{Digest: a, Size: 2 << 20, Done: 2 << 20, State: oci.Complete})
	// The screen the last redraw leaves: one line per blob, in order.
	got := out.String()
	last := got[strings.LastIndex(got, "\x1b[2A")+len("\x1b[2A"):]
	last = strings.ReplaceAll(last, "\r\x1b[K", "")
	want := a.Encoded()[:12] + ": pulled 2 MiB\n" + b.Encoded()[:12] + ": already there\n"
	if diff := cmp.Diff(want, last); diff != "" {
		t.Errorf("last screen (-want +got):\n%s", diff)
	}
	if !strings.Contains(got, a.Encoded()[:12]+": pulling [===============               ] 1 MiB/2 MiB") {
		t.Errorf("no half-way bar in %q", got)
	}
}
