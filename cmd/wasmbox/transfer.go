package main

import (
	"fmt"
	"io"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/oci"
)

// transferFlags are the flags push and pull share.
type transferFlags struct {
	quiet    bool
	insecure []string
}

func (f *transferFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress; print only the digest")
	cmd.Flags().StringArrayVar(&f.insecure, "insecure-registry", nil, "reach registry HOST[:PORT] over plain HTTP (loopback registries always are)")
}

// options are the oci options for the flags, with a progress display on
// stderr when it is a terminal; keepNative keeps the native programs of a
// converted image.
func (f *transferFlags) options(cmd *cobra.Command, verb string, keepNative bool) []oci.Option {
	opts := []oci.Option{oci.WithInsecureRegistries(f.insecure...), oci.WithImportOptions(oci.WithKeepNative(keepNative))}
	if w := cmd.ErrOrStderr(); !f.quiet && isTerminal(w) {
		opts = append(opts, oci.WithProgress(blobProgress(w, verb)))
	}
	return opts
}

// blobProgress is the terminal display of a transfer: one line per blob,
// redrawn in place, at most ten times a second but at once when a blob
// completes.
func blobProgress(w io.Writer, verb string) func(oci.Progress) {
	var (
		order []digest.Digest
		last  = map[digest.Digest]oci.Progress{}
		drawn int // lines drawn so far
		at    time.Time
	)
	return func(p oci.Progress) {
		prev, seen := last[p.Digest]
		if !seen {
			order = append(order, p.Digest)
		}
		last[p.Digest] = p
		if seen && prev.State == p.State && time.Since(at) < 100*time.Millisecond {
			return
		}
		at = time.Now()
		if drawn > 0 {
			fmt.Fprintf(w, "\x1b[%dA", drawn)
		}
		for _, d := range order {
			fmt.Fprintf(w, "\r\x1b[K%s\n", progressLine(verb, last[d]))
		}
		drawn = len(order)
	}
}

func progressLine(verb string, p oci.Progress) string {
	id := p.Digest.Encoded()
	if len(id) > 12 {
		id = id[:12]
	}
	switch p.State {
	case oci.Exists:
		return fmt.Sprintf("%s: already there", id)
	case oci.Complete:
		return fmt.Sprintf("%s: %s %s", id, verb+"ed", units.Size(p.Size))
	}
	const width = 30
	bar := 0
	if p.Size > 0 {
		bar = int(int64(width) * p.Done / p.Size)
	}
	return fmt.Sprintf("%s: %sing [%-*s] %s/%s", id, verb, width, string(repeat('=', bar)), units.Size(p.Done), units.Size(p.Size))
}

func repeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}
