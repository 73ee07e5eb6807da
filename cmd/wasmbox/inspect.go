package main

import (
	"encoding/json"
	"fmt"
	"text/template"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/wasmbox/wasmbox/runtime"
)

// inspectView is what `wasmbox inspect` shows and --format sees.
type inspectView struct {
	Ref      string                    `json:"Ref,omitempty"`
	Digest   string                    `json:"Digest"`
	Manifest ocispec.Manifest          `json:"Manifest"`
	Config   dockerspec.DockerOCIImage `json:"Config"`
	// Limits are what `wasmbox run` of the box gets without limit flags.
	Limits runLimitsView `json:"Limits"`
}

// runLimitsView shows runtime.DefaultLimits as run applies them.
type runLimitsView struct {
	Memory    int64 `json:"Memory"`
	Processes int   `json:"Processes"`
	Files     int   `json:"Files"`
}

func defaultLimitsView() runLimitsView {
	l := runtime.Limits{}.Effective()
	return runLimitsView{Memory: l.Memory, Processes: l.Processes, Files: l.Files}
}

func newInspectCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [--format TEMPLATE] IMAGE",
		Short: "Show the manifest and OCI config of a box",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			img, err := store.Resolve(args[0])
			if err != nil {
				return err
			}
			v := inspectView{Ref: img.Ref, Digest: img.Descriptor.Digest.String(), Manifest: img.Manifest, Config: img.Config, Limits: defaultLimitsView()}
			if format != "" {
				t, err := template.New("format").Funcs(template.FuncMap{"json": func(x any) (string, error) {
					b, err := json.Marshal(x)
					return string(b), err
				}}).Parse(format)
				if err != nil {
					return fmt.Errorf("--format: %w", err)
				}
				if err := t.Execute(cmd.OutOrStdout(), v); err != nil {
					return fmt.Errorf("--format: %w", err)
				}
				fmt.Fprintln(cmd.OutOrStdout())
				return nil
			}
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "print with a Go template, e.g. '{{.Digest}}'")
	return cmd
}
