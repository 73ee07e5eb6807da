package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/oci"
)

func newLoadCmd() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [-i FILE] [--quiet]",
		Short: "Store the boxes of an OCI image layout archive (tar, or tar.gz; standard input without -i)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			var r io.Reader = cmd.InOrStdin()
			if input != "" && input != "-" {
				f, err := os.Open(input)
				if err != nil {
					return fmt.Errorf("load: %w", err)
				}
				defer f.Close()
				r = f
			}
			imgs, err := oci.Load(cmd.Context(), store, r)
			if err != nil {
				if input != "" {
					return fmt.Errorf("%s: %w", input, err)
				}
				return err
			}
			var digests []string
			for _, img := range imgs {
				digests = append(digests, img.Descriptor.Digest.String())
			}
			precompile(cmd.Context(), store, digests...)
			for _, img := range imgs {
				switch {
				case quiet:
					fmt.Fprintln(cmd.OutOrStdout(), img.Descriptor.Digest)
				case img.Ref == "":
					fmt.Fprintf(cmd.OutOrStdout(), "loaded %s\n", img.Descriptor.Digest)
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "loaded %s: %s\n", img.Ref, img.Descriptor.Digest)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "the archive to read (default standard input)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the digests")
	return cmd
}
