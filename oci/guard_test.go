package oci

import (
	"context"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/internal/testregistry"
)

// TestPlainHTTPRefusedOnEveryPath: every way oci reaches a registry
// (pull, push, fetch as a box, a foreign image for FROM or import, a
// docker-image build context) refuses plain HTTP to a private address
// before any plain-HTTP request leaves, and lets it through for a host
// given as insecure.
func TestPlainHTTPRefusedOnEveryPath(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	testBox(t, s, "demo", "hi")
	const ref = "10.255.255.1:5000/app:v1"
	paths := map[string]func(opts ...Option) error{
		"pull": func(opts ...Option) error { _, err := Pull(ctx, s, ref, opts...); return err },
		"push": func(opts ...Option) error { _, err := Push(ctx, s, "demo", ref, opts...); return err },
		"fetch": func(opts ...Option) error {
			_, _, err := Fetch(ctx, s, ref, opts...)
			return err
		},
		"remote image": func(opts ...Option) error { _, err := RemoteImage(ctx, ref, opts...); return err },
		"build context": func(opts ...Option) error {
			_, err := BuildContext{Name: "base", Kind: "docker-image", Ref: ref}.Image(ctx, opts...)
			return err
		},
	}
	for name, do := range paths {
		t.Run(name, func(t *testing.T) {
			tr := &testregistry.OffMachine{}
			err := do(WithTransport(tr))
			if len(tr.Plain()) > 0 {
				t.Errorf("plain HTTP went out: %q", tr.Plain())
			}
			if err == nil || !strings.Contains(err.Error(), "refusing plain HTTP to 10.255.255.1:5000") {
				t.Errorf("got %v, want the plain-HTTP refusal", err)
			}
			if tr.HTTPS() == 0 {
				t.Errorf("the transport was not used: the test proves nothing")
			}
			// Declared insecure, the same host may be reached over HTTP.
			tr = &testregistry.OffMachine{}
			do(WithTransport(tr), WithInsecureRegistries("10.255.255.1:5000"))
			if len(tr.Plain()) == 0 {
				t.Errorf("--insecure-registry 10.255.255.1:5000: no plain HTTP was tried")
			}
		})
	}
}
