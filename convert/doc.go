// Package convert is the Dockerfile frontend: it parses a Dockerfile with
// buildkit's parser and instructions packages, expands variables with
// buildkit's shell lexer, and dispatches each instruction of the target
// stage: FROM picks a base from the shims catalog, COPY writes files of the
// build context, RUN runs the command inside the sandbox with the box's own
// /bin/sh, and the rest fills the image config. Each instruction that
// changes files becomes an fsimage layer in the store.
//
// It prints nothing: progress leaves as Events through a callback, and
// errors name the Dockerfile and line (Dockerfile:7: ...).
package convert
