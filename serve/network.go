package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/wasmbox/wasmbox/runtime"
)

// NetworkSpec is a run's network as the flags of wasmbox run give it
// (runtime.NetworkFlags): the same in-process and through the server.
type NetworkSpec struct {
	Network []string `json:"network,omitempty"`  // --network, in order
	Publish []string `json:"publish,omitempty"`  // -p
	AddHost []string `json:"add_host,omitempty"` // --add-host
	DNS     string   `json:"dns,omitempty"`      // --dns
	// Log is --network-log: a host path, absolute, that gets one JSON
	// line per resolution, connection and listen (runtime.NetEvent).
	Log string `json:"log,omitempty"`
}

// Policy is the runtime.Network of spec, nil for none; done closes its
// log.
func (spec *NetworkSpec) Policy() (nw *runtime.Network, done func(), err error) {
	done = func() {}
	if spec == nil {
		return nil, done, nil
	}
	nw, err = runtime.NetworkFlags(spec.Network, spec.Publish, spec.AddHost, spec.DNS)
	if err != nil {
		return nil, nil, err
	}
	if spec.Log == "" {
		return nw, done, nil
	}
	if !filepath.IsAbs(spec.Log) {
		return nil, nil, fmt.Errorf("network log %q: the path must be absolute", spec.Log)
	}
	f, err := os.OpenFile(spec.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("network log: %w", err)
	}
	if nw == nil {
		nw = &runtime.Network{}
	}
	nw.Observe = NetLog(f)
	return nw, func() { f.Close() }, nil
}

// NetLog writes each event to w as a JSON line.
func NetLog(w io.Writer) func(runtime.NetEvent) {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return func(ev runtime.NetEvent) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(ev)
	}
}
