package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/oci"
)

func newPullCmd() *cobra.Command {
	var (
		f          transferFlags
		keepNative bool
	)
	cmd := &cobra.Command{
		Use:   "pull [--quiet] [--insecure-registry HOST]... [--keep-native] REF",
		Short: "Fetch a box from a registry into the local store (a container image is converted into one)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			name, desc, err := pullRef(ctx, store, args[0], f.options(cmd, "pull", keepNative), cmd.ErrOrStderr(), f.quiet)
			if err != nil {
				return err
			}
			precompile(ctx, store, desc)
			if f.quiet {
				fmt.Fprintln(cmd.OutOrStdout(), desc)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pulled %s: %s\n", name, desc)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&keepNative, "keep-native", false, "keep the native programs of a converted image as inert files")
	return cmd
}

// pullRef fetches ref as a box (a container image converted: flattened,
// the Wasm stand-ins laid over its native programs, as FROM does) and
// names it ref in the store. It reports a conversion on w unless quiet,
// and returns the name and the manifest digest.
func pullRef(ctx context.Context, store *oci.Store, ref string, opts []oci.Option, w io.Writer, quiet bool) (string, string, error) {
	name, err := oci.NormalizeRef(ref)
	if err != nil {
		return "", "", err
	}
	release, err := store.Lease()
	if err != nil {
		return "", "", err
	}
	defer release()
	desc, rep, err := oci.Fetch(ctx, store, ref, opts...)
	if err != nil {
		return "", "", err
	}
	if err := store.Remember(name, desc); err != nil {
		return "", "", err
	}
	if rep != nil && !quiet {
		fmt.Fprintf(w, "converted %s: %s\n", ref, rep.Summary())
		for _, d := range rep.Dropped {
			fmt.Fprintf(w, "dropped %s\n", d)
		}
	}
	return name, desc.Digest.String(), nil
}
