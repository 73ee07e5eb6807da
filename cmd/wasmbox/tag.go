package main

import (
	"github.com/spf13/cobra"
)

func newTagCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "Give the box SOURCE (name or digest) the name TARGET (NAME[:TAG])",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			img, err := store.Resolve(args[0])
			if err != nil {
				return err
			}
			return store.Tag(args[1], img.Descriptor)
		},
	}
}
