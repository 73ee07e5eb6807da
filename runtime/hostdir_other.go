//go:build !unix

package runtime

// openNonblock is 0 where opening a file never waits for a peer.
const openNonblock = 0
