package main

import (
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/wasmbox/wasmbox/runtime"
	"github.com/wasmbox/wasmbox/serve"
)

// addNetworkFlags adds the network flags run and build share; def is
// what the command grants without --network.
func addNetworkFlags(f *pflag.FlagSet, network, addHosts *[]string, dns, log *string, def string) {
	f.StringArrayVar(network, "network", nil, "what the box may reach (default "+def+"): none | all (public addresses and names) | allow=RULE[,RULE...] | deny=RULE[,RULE...]; flags add up. RULE is HOST[:PORTS]: a name, *.suffix, *, an IP or CIDR ([v6] in brackets), PORTS a port, LO-HI or *. Loopback, private, link-local and metadata addresses only when a rule names them")
	f.StringArrayVar(addHosts, "add-host", nil, "answer NAME with IP as /etc/hosts would: NAME:IP (still under --network)")
	f.StringVar(dns, "dns", "", "resolve names through this DNS server: IP[:PORT] (default: the host's resolver)")
	f.StringVar(log, "network-log", "", "append every name resolved, connection and listen the box attempts, with its verdict, to FILE as JSON lines")
}

// networkSpec is the network of the flags, checked here so that a bad
// flag fails before anything runs; nil when none is set.
func networkSpec(network, publish, addHosts []string, dns, log string) (*serve.NetworkSpec, error) {
	if len(network) == 0 && len(publish) == 0 && len(addHosts) == 0 && dns == "" && log == "" {
		return nil, nil
	}
	if _, err := runtime.NetworkFlags(network, publish, addHosts, dns); err != nil {
		return nil, err
	}
	if log != "" {
		abs, err := filepath.Abs(log)
		if err != nil {
			return nil, err
		}
		log = abs
	}
	return &serve.NetworkSpec{Network: network, Publish: publish, AddHost: addHosts, DNS: dns, Log: log}, nil
}
