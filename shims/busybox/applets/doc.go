// Package applets holds the core utilities of the box's multi-call module
// (/bin/busybox): ls, cat, sed, ... Each applet is a plain function over an
// Env, so the shell can run it in-process (no new Wasm instance) and tests
// can run it natively. Applets never call os.Exit, never use the process's
// working directory or environment: they use Env.
//
// What it owns: the applets (Lookup, Names, Main), their option parsing,
// the translation of POSIX regular expressions to Go's, and the platform
// hooks (Chmod, Lchown, Lstat, Stat) through which permission bits and
// owners are read and changed.
//
// What it must not do: run programs other than through Env.Exec (no
// os/exec), reach the network other than through netx (the runner's
// policy decides, in a box), touch the process's working directory or
// environment, write outside the paths it is given, or panic on any
// input.
//
// Conventions every applet follows:
//   - Relative paths are resolved with Env.Abs; messages name paths as the
//     user gave them.
//   - Errors go to Env.Stderr as "NAME: message"; exit statuses follow GNU
//     coreutils (1 generally, 2 for usage errors of grep, test, ls, sort,
//     cmp, tar; 125-127 for env, xargs and timeout as GNU documents).
//   - Standard output is buffered and flushed before returning; when the
//     reader goes away (EPIPE, io.ErrClosedPipe) the applet stops and
//     returns 141, as if killed by SIGPIPE, without a message.
//   - Long-running applets (yes, sleep, tail -f, cat of a pipe, find,
//     sed loops) stop when their context ends.
//   - Output formats follow GNU coreutils, grep, sed, tar and gzip in the C
//     locale where scripts rely on them; directory listings are sorted by
//     name (reproducible builds), and time is UTC unless $TZ names a zone
//     the box has data for.
//   - curl, wget and nc follow curl's exit statuses and busybox's
//     messages; HTTP is a small HTTP/1.1 client of their own (httpclient.go,
//     not net/http, which costs megabytes of busybox.wasm), HTTPS trusts
//     the box's CA bundle only, proxies come from Env.
//   - A box has no users: processes are uid 0, gid 0; names come from the
//     box's /etc/passwd and /etc/group.
package applets
