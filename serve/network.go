package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// NetworkRequest is the network a request asks for: in JSON false (none),
// true (all the operator's grant) or {"allow": [...], "deny": [...]}
// (those rules, within the operator's grant).
type NetworkRequest struct {
	On    bool     `json:"-"`
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

func (nr *NetworkRequest) UnmarshalJSON(b []byte) error {
	var on bool
	if err := json.Unmarshal(b, &on); err == nil {
		*nr = NetworkRequest{On: on}
		return nil
	}
	type rules NetworkRequest
	var r rules
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("network: want false, true or {\"allow\": [RULE...], \"deny\": [RULE...]}: %v", err)
	}
	*nr = NetworkRequest(r)
	nr.On = true
	return nil
}

func (nr NetworkRequest) MarshalJSON() ([]byte, error) {
	if !nr.On || len(nr.Allow) == 0 && len(nr.Deny) == 0 {
		return json.Marshal(nr.On)
	}
	type rules NetworkRequest
	return json.Marshal(rules(nr))
}

// networkOf is the network of a request: its rules bounded by the
// operator's grant (WithNetwork).
func (s *Server) networkOf(nr *NetworkRequest) (*runtime.Network, *RequestError) {
	if nr == nil || !nr.On {
		return nil, nil
	}
	op := s.opts.network
	if op == nil {
		return nil, networkNotGranted()
	}
	if len(nr.Allow) == 0 && len(nr.Deny) == 0 {
		return op, nil
	}
	n := &runtime.Network{Bound: op, Hosts: op.Hosts, DNS: op.DNS, Observe: op.Observe}
	for _, list := range []struct {
		rules []string
		to    *[]runtime.NetRule
	}{{nr.Allow, &n.Allow}, {nr.Deny, &n.Deny}} {
		for _, s := range list.rules {
			r, err := runtime.ParseNetRule(s)
			if err != nil {
				return nil, badRequest("network: %v", err)
			}
			*list.to = append(*list.to, r)
		}
	}
	return n, nil
}

// networkWords says what a grant lets tools reach, for MCP's
// instructions.
func networkWords(n *runtime.Network) string {
	switch {
	case n == nil:
		return "no network"
	case n.All:
		return "network: public addresses"
	}
	var rules []string
	for _, r := range n.Allow {
		rules = append(rules, r.String())
	}
	if len(rules) == 0 {
		return "no network"
	}
	return "network: only " + strings.Join(rules, ", ")
}
