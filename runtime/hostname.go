package runtime

import "time"

// DefaultHostname is the host name of a box whose Cmd sets none. Docker
// names a container's host after its id; a box run has none, so every box
// answers to the same name unless run --hostname says otherwise.
const DefaultHostname = "wasmbox"

// etcHostname is where a run finds its host name, as Docker bind-mounts
// it: served over the box's own file, never written into its layers.
const etcHostname = "etc/hostname"

// hostnameFile is a file system holding only /etc/hostname with name.
func hostnameFile(name string) *overlay {
	o := newOverlay(nil)
	// Cannot fail: an empty overlay without limits.
	o.MkdirAll("/etc", 0o755)
	o.WriteFile("/"+etcHostname, []byte(name+"\n"), 0o644, 0, 0, time.Unix(0, 0))
	return o
}
