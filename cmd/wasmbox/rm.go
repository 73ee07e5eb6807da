package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm IMAGE...",
		Aliases: []string{"rmi"},
		Short:   "Remove boxes from the local store",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			for _, ref := range args {
				removed, err := store.Remove(ref)
				if err != nil {
					return err
				}
				for _, r := range removed {
					if r == "" {
						r = ref
					}
					fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", r)
				}
			}
			return nil
		},
	}
}
