package main

import (
	"fmt"
	goruntime "runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionText is what `wasmbox version` and `wasmbox --version` print: the
// module's version (a tag, or the VCS revision of a development build),
// the Go toolchain and the wazero that runs the boxes.
func versionText() string {
	version, revision, wazero := "(devel)", "", "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" {
			version = v
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
		for _, m := range info.Deps {
			if m.Path == "github.com/tetratelabs/wazero" {
				wazero = m.Version
				if m.Replace != nil {
					wazero = m.Replace.Version
				}
			}
		}
	}
	s := "wasmbox " + version
	if revision != "" && version == "(devel)" {
		s += " (" + revision + ")"
	}
	return fmt.Sprintf("%s\ngo: %s %s/%s\nwazero: %s\n", s, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, wazero)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show wasmbox's version, and the Go and wazero versions it was built with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(cmd.OutOrStdout(), versionText())
			return nil
		},
	}
}
