package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/internal/units"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

func newSystemCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage the store",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "df",
		Short: "Show the disk space the store takes: boxes, blobs, compiled modules, and what prune would free",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := measureStore(cmd.Context(), false)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "TYPE\tTOTAL\tSIZE\tRECLAIMABLE")
			fmt.Fprintf(w, "Boxes\t%d\t%s\t\n", u.blobs.Boxes, units.Size(u.blobs.Size-u.blobs.UnusedSize))
			fmt.Fprintf(w, "Blobs\t%d\t%s\t%s (%d)\n", u.blobs.Blobs, units.Size(u.blobs.Size), units.Size(u.blobs.UnusedSize), u.blobs.Unused)
			fmt.Fprintf(w, "Compile cache\t%d\t%s\t%s (%d)\n", u.cache.Entries, units.Size(u.cache.Size), units.Size(u.cache.Stale), u.cache.StaleEntries)
			if err := w.Flush(); err != nil {
				return err
			}
			if u.blobs.Inaccessible {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: a build is running; prune will wait for it to end")
			}
			return nil
		},
	})
	return cmd
}

func newPruneCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [-f]",
		Short: "Remove the blobs no box of the store references and the compiled modules of no box",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				fmt.Fprint(cmd.ErrOrStderr(), "This removes the blobs no box references and the compiled modules no box needs.\nAre you sure you want to continue? [y/N] ")
				line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return &exitError{code: 1, msg: "prune: cancelled"}
				}
			}
			u, err := measureStore(cmd.Context(), true)
			if errors.Is(err, oci.ErrBuildRunning) {
				return fmt.Errorf("prune: %w", err)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "removed %d blobs (%s) and %d compiled modules (%s)\n",
				u.blobs.Unused, units.Size(u.blobs.UnusedSize), u.cache.StaleEntries, units.Size(u.cache.Stale))
			fmt.Fprintf(out, "Total reclaimed space: %s\n", units.Size(u.blobs.UnusedSize+u.cache.Stale))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

// storeUsage is what system df shows and prune frees.
type storeUsage struct {
	blobs oci.BlobUsage
	cache runtime.CacheUsage
}

// measureStore measures the store and its compilation cache and, with
// prune, removes what no box of the store needs: blobs first, then the
// compiled modules of the boxes that remain.
func measureStore(ctx context.Context, prune bool) (storeUsage, error) {
	var u storeUsage
	store, err := openStore()
	if err != nil {
		return u, err
	}
	home, err := homeDir()
	if err != nil {
		return u, err
	}
	if prune {
		u.blobs, err = store.Prune()
	} else {
		u.blobs, err = store.Usage()
	}
	if err != nil {
		return u, err
	}
	live, err := liveModules(ctx, store)
	if err != nil {
		return u, err
	}
	cacheDir := filepath.Join(home, "cache", "compiled")
	u.cache, err = runtime.PruneCompilationCache(cacheDir, func(k [32]byte) bool { return live[k] }, prune)
	if err != nil {
		return u, err
	}
	boxes, err := store.List()
	if err != nil {
		return u, err
	}
	liveBoxes := map[string]bool{}
	for _, b := range boxes {
		liveBoxes[b.Descriptor.Digest.String()] = true
	}
	su, err := runtime.PruneSnapshots(cacheDir, func(d string) bool { return liveBoxes[d] }, prune)
	// The snapshots are counted in the cache's size already.
	u.cache.Stale += su.Stale
	u.cache.Entries += su.Entries
	u.cache.StaleEntries += su.StaleEntries
	return u, err
}

// liveModules are the digests of the Wasm modules of every box of the
// store.
func liveModules(ctx context.Context, store *oci.Store) (map[[32]byte]bool, error) {
	boxes, err := store.List()
	if err != nil {
		return nil, err
	}
	live := map[[32]byte]bool{}
	seen := map[string]bool{}
	for _, b := range boxes {
		d := b.Descriptor.Digest.String()
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		box, err := runtime.OpenBox(store.Dir(), d)
		if err != nil {
			return nil, fmt.Errorf("reading box %s: %w", d, err)
		}
		keys, err := box.ModuleDigests()
		box.Close()
		if err != nil {
			return nil, fmt.Errorf("reading box %s: %w", d, err)
		}
		for _, k := range keys {
			live[k] = true
		}
	}
	return live, nil
}
