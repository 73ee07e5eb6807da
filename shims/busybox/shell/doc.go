// Package shell is the box's /bin/sh: a POSIX shell (with bash extensions)
// on mvdan.cc/sh/v3's interpreter, and the command execution of the
// multi-call module.
//
// A command resolved through PATH to the multi-call module itself
// (/bin/busybox, or a symlink to it such as /bin/ls) runs in-process as an
// applet, and sh as a nested interpreter: no new Wasm instance. Any other
// program of the box starts as a child instance through package proc.
//
// On wasip1, pipelines and here-documents need the interpreter's in-process
// pipes, which upstream enables for GOOS=js only; shims/build compiles the
// module with an -overlay that enables them for wasip1 too. Natively the
// interpreter uses OS pipes and this package tests as is.
//
// The package prints only what a shell prints (to the Env's stderr) and
// never exits the process: Main returns the exit status.
package shell
