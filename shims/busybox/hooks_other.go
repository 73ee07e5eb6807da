//go:build !wasip1

package main

// installHooks leaves the applets' hooks on the os functions: outside
// wasip1 the file system keeps modes and owners itself.
func installHooks() {}
