package shims

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// BusyboxModule is the file name of the multi-call module (shell and core
// utilities) in a shims directory.
const BusyboxModule = "busybox.wasm"

// EnvDir names the environment variable that points at a directory of
// built stand-ins, overriding the one next to the wasmbox executable.
const EnvDir = "WASMBOX_SHIMS"

// Dir returns the directory holding the built stand-ins: $WASMBOX_SHIMS,
// else "shims" next to the running executable (where `make build` puts
// them).
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, check(d)
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locating the Wasm stand-ins: %w", err)
	}
	d := filepath.Join(filepath.Dir(exe), "shims")
	return d, check(d)
}

func check(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, BusyboxModule)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the Wasm stand-ins are not built: %s has no %s (run `make build`, or set %s to a directory holding them)", dir, BusyboxModule, EnvDir)
		}
		return fmt.Errorf("locating the Wasm stand-ins: %w", err)
	}
	return nil
}
