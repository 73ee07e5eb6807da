package convert

import (
	"errors"
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/wasmbox/wasmbox/runtime"
)

// Error is an error about one instruction of a Dockerfile.
type Error struct {
	File string // the Dockerfile's name as the user gave it
	Line int    // 1-based; 0 when the whole file is concerned
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// runError is a RUN whose command failed: the message says why for a
// person, and errors.As finds the command's *runtime.ExitError under it.
type runError struct {
	msg  string
	exit *runtime.ExitError
}

func (e *runError) Error() string { return e.msg }
func (e *runError) Unwrap() error { return e.exit }

// atLocation attaches the first line of loc to err, once.
func atLocation(file string, loc []parser.Range, err error) error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	line := 0
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	return &Error{File: file, Line: line, Err: err}
}

// parseErrorLine digs the line out of a buildkit parse error.
func parseErrorLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return le.Locations[0][0].Start.Line
	}
	return 0
}
