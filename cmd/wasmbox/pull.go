package main

import (
	"errors"
	"fmt"

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
			img, err := oci.Pull(ctx, store, args[0], f.options(cmd, "pull")...)
			var nab *oci.NotABoxError
			if errors.As(err, &nab) {
				// A container image: flatten it and lay the Wasm stand-ins
				// over its native programs, as FROM does.
				return importPulled(cmd, store, args[0], f, keepNative)
			}
			if err != nil {
				return err
			}
			precompile(ctx, store, img.Descriptor.Digest.String())
			if f.quiet {
				fmt.Fprintln(cmd.OutOrStdout(), img.Descriptor.Digest)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pulled %s: %s\n", img.Ref, img.Descriptor.Digest)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&keepNative, "keep-native", false, "keep the native programs of a converted image as inert files")
	return cmd
}

// importPulled converts the container image ref into a box named ref.
func importPulled(cmd *cobra.Command, store *oci.Store, ref string, f transferFlags, keepNative bool) error {
	name, err := oci.NormalizeRef(ref)
	if err != nil {
		return err
	}
	src, err := oci.RemoteImage(cmd.Context(), ref, oci.WithInsecureSources(f.insecure...))
	if err != nil {
		return err
	}
	desc, rep, err := oci.Import(cmd.Context(), store, src, oci.WithSourceName(ref), oci.WithKeepNative(keepNative))
	if err != nil {
		return err
	}
	if err := store.Tag(name, desc); err != nil {
		return err
	}
	precompile(cmd.Context(), store, desc.Digest.String())
	if f.quiet {
		fmt.Fprintln(cmd.OutOrStdout(), desc.Digest)
		return nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "converted %s: %s\n", ref, rep.Summary())
	for _, d := range rep.Dropped {
		fmt.Fprintf(cmd.ErrOrStderr(), "dropped %s\n", d)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "pulled %s: %s\n", name, desc.Digest)
	return nil
}
