package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/oci"
)

func newPushCmd() *cobra.Command {
	var f transferFlags
	cmd := &cobra.Command{
		Use:   "push [--quiet] [--insecure-registry HOST]... IMAGE [REF]",
		Short: "Send a box to a registry (to REF, else to the box's own name)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			dst := ""
			if len(args) == 2 {
				dst = args[1]
			}
			desc, err := oci.Push(cmd.Context(), store, args[0], dst, f.options(cmd, "push", false)...)
			if err != nil {
				return err
			}
			if f.quiet {
				fmt.Fprintln(cmd.OutOrStdout(), desc.Digest)
				return nil
			}
			if dst == "" {
				dst = args[0]
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s: digest %s size %d\n", dst, desc.Digest, desc.Size)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
