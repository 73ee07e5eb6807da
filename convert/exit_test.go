package convert_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wasmbox/wasmbox/convert"
	"github.com/wasmbox/wasmbox/oci"
	"github.com/wasmbox/wasmbox/runtime"
)

// A failing RUN's error names the file and line for a person, and carries
// the command's *runtime.ExitError for a program.
func TestRunFailureExitError(t *testing.T) {
	store, err := oci.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, run string
		code      int
		cause     runtime.Cause
	}{
		{"own status", "RUN exit 3", 3, runtime.CauseExit},
		{"not found", `RUN ["nosuchprogram"]`, 127, runtime.CauseNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := buildDockerfile(t, store, "FROM alpine\n"+tc.run+"\n")
			var ee *runtime.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("errors.As(%v, *runtime.ExitError) failed", err)
			}
			if ee.Code != tc.code || ee.Cause != tc.cause {
				t.Errorf("got %d (%v), want %d (%v)", ee.Code, ee.Cause, tc.code, tc.cause)
			}
			var ce *convert.Error
			if !errors.As(err, &ce) || ce.Line != 2 || !strings.HasPrefix(err.Error(), ce.File+":2: RUN") {
				t.Errorf("the error does not name the line: %v", err)
			}
		})
	}
}
