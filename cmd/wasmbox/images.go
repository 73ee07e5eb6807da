package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/internal/units"
)

func newImagesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "images",
		Short: "List the boxes of the local store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			list, err := store.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "REPOSITORY\tTAG\tDIGEST\tCREATED\tSIZE")
			for _, s := range list {
				repo, tag := s.Ref, ""
				switch at := strings.LastIndex(s.Ref, "@"); {
				case s.Ref == "": // loaded from an archive that did not name it
					repo, tag = "<none>", "<none>"
				case at >= 0: // pulled by digest
					repo, tag = s.Ref[:at], "<none>"
				default:
					if i := strings.LastIndex(s.Ref, ":"); i > strings.LastIndex(s.Ref, "/") {
						repo, tag = s.Ref[:i], s.Ref[i+1:]
					}
				}
				created := ""
				if s.Config.Created != nil {
					created = s.Config.Created.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", repo, tag, s.Descriptor.Digest.Encoded()[:12], created, units.Size(s.Size))
			}
			return w.Flush()
		},
	}
}
