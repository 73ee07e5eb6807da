package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/oci"
)

func newSaveCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save -o FILE IMAGE...",
		Short: "Write boxes to an OCI image layout archive (tar)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			if output == "" {
				return errors.New("save: say where with -o FILE (- for standard output)")
			}
			if output == "-" {
				if isTerminal(cmd.OutOrStdout()) {
					return errors.New("save: refusing to write an archive to a terminal")
				}
				return oci.Save(cmd.Context(), store, cmd.OutOrStdout(), args...)
			}
			// A temporary file renamed into place: a failed save leaves no
			// half archive under the name.
			tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp-*")
			if err != nil {
				return fmt.Errorf("save: %w", err)
			}
			defer os.Remove(tmp.Name())
			if err := oci.Save(cmd.Context(), store, tmp, args...); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return fmt.Errorf("save: %w", err)
			}
			if err := os.Chmod(tmp.Name(), 0o644); err != nil {
				return fmt.Errorf("save: %w", err)
			}
			return os.Rename(tmp.Name(), output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the archive to write (- for standard output)")
	return cmd
}
