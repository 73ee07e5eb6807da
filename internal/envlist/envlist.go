// Package envlist reads and edits environment lists: KEY=VALUE strings, as
// an image config's Env, a process's environ and the process ABI's spawn
// request hold them. Its semantics are Docker's: the last assignment of a
// key is the one that counts, and setting a key replaces its assignment in
// place, so the order of the keys stays.
//
// It imports only the standard library: the host (runtime, convert, the
// CLI) and the guest programs (GOOS=wasip1) share it.
package envlist

import "strings"

// key returns the name an entry assigns ("" for an entry without "=": it
// assigns nothing).
func key(kv string) string {
	k, _, ok := strings.Cut(kv, "=")
	if !ok {
		return ""
	}
	return k
}

// Lookup returns the value env gives key, and whether it gives one. When
// key is assigned several times, the last assignment wins, as getenv(3)
// of the process would see it after Docker merged the list.
func Lookup(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Set assigns value to key: the first assignment of key is replaced in
// place (later ones are dropped, so Lookup sees value), or key=value is
// appended. Set may modify env's elements; it returns the list.
func Set(env []string, k, value string) []string {
	kv := k + "=" + value
	for i := range env {
		if key(env[i]) != k {
			continue
		}
		env[i] = kv
		out := env[:i+1]
		for _, e := range env[i+1:] {
			if key(e) != k {
				out = append(out, e)
			}
		}
		return out
	}
	return append(env, kv)
}

// Unset returns a new list of env's entries but the assignments of k.
func Unset(env []string, k string) []string {
	out := make([]string, 0, len(env))
	for _, e := range env {
		if key(e) != k {
			out = append(out, e)
		}
	}
	return out
}
