package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/oci"
)

func newPullCmd() *cobra.Command {
	var f transferFlags
	cmd := &cobra.Command{
		Use:   "pull [--quiet] [--insecure-registry HOST]... REF",
		Short: "Fetch a box from a registry into the local store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			img, err := oci.Pull(cmd.Context(), store, args[0], f.options(cmd, "pull")...)
			if err != nil {
				return err
			}
			if f.quiet {
				fmt.Fprintln(cmd.OutOrStdout(), img.Descriptor.Digest)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pulled %s: %s\n", img.Ref, img.Descriptor.Digest)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
