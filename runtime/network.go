package runtime

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Network is what a run may reach of the network (Cmd.Network); the zero
// value is no network at all. The runner resolves every name and makes
// every connection itself, under this policy: a guest never touches the
// host's network (shims/ABI.md, "The network ABI").
//
// Loopback, private, link-local, cloud-metadata and other special-purpose
// addresses (specialAddress) are reached only through an Allow rule whose
// address range holds them: All and name rules grant public addresses
// only, so a granted name that answers a private address (DNS rebinding)
// reaches nothing.
type Network struct {
	// All grants every public address, and every name (on every port).
	All bool
	// Allow grants names and addresses, with their ports (ParseNetRule).
	Allow []NetRule
	// Deny takes back what All and Allow grant: a denied name does not
	// resolve; a denied address is not connected to.
	Deny []NetRule
	// Publish maps ports of the host to ports the box listens on (-p); a
	// box may listen on these ports only.
	Publish []Publish
	// Hosts answers names before DNS, as the host's /etc/hosts would
	// (Docker's --add-host). The answers are under the policy too.
	Hosts map[string][]netip.Addr
	// DNS is the address (IP:port) of the DNS server the runner resolves
	// through; empty: the host's resolver.
	DNS string
	// Bound, when set, is a second policy every resolution and connection
	// must pass too: an operator's grant over a request's own rules
	// (serve). Its Hosts, DNS and Publish are not used.
	Bound *Network
	// Observe, when set, is called for every name the run resolves and
	// every connection and listen it attempts, with the verdict
	// (--network-log). It must not block.
	Observe func(NetEvent)
}

// NetRule is one rule of a Network: a name or a range of addresses, and
// the ports it covers.
type NetRule struct {
	// Name is a DNS name ("api.example.com"), "*.example.com" for every
	// name under example.com (not example.com itself), or "*" for every
	// name and public address. Empty for an address rule.
	Name string
	// Prefix is the addresses of an address rule.
	Prefix netip.Prefix
	// Ports is the range of ports; the zero value is every port.
	Ports PortRange
}

// PortRange is a range of ports, bounds included; {0, 0} is every port.
type PortRange struct{ Lo, Hi uint16 }

func (r PortRange) has(port uint16) bool {
	return r == PortRange{} || (port >= r.Lo && port <= r.Hi)
}

func (r PortRange) String() string {
	switch {
	case r == PortRange{}:
		return "*"
	case r.Lo == r.Hi:
		return strconv.Itoa(int(r.Lo))
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

func (r NetRule) String() string {
	host := r.Name
	if host == "" {
		host = r.Prefix.String()
		if r.Prefix.IsSingleIP() {
			host = r.Prefix.Addr().String()
		}
		if r.Prefix.Addr().Is6() {
			host = "[" + host + "]"
		}
	}
	if r.Ports == (PortRange{}) {
		return host
	}
	return host + ":" + r.Ports.String()
}

// Publish is one published port: connections to HostIP:HostPort on the
// host reach the box's listener on BoxPort.
type Publish struct {
	HostIP   netip.Addr // default 127.0.0.1
	HostPort uint16
	BoxPort  uint16
}

func (p Publish) String() string {
	return fmt.Sprintf("%s:%d->%d", p.hostIP(), p.HostPort, p.BoxPort)
}

func (p Publish) hostIP() netip.Addr {
	if !p.HostIP.IsValid() {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return p.HostIP
}

// NetEvent is one network operation of a run and its verdict.
type NetEvent struct {
	Time time.Time `json:"time"`
	// Op is "resolve", "connect" or "listen".
	Op string `json:"op"`
	// Name is the name resolved, or for a connection the name its
	// address was resolved from (if any).
	Name string `json:"name,omitempty"`
	// Addr is the address connected to or listened on; for a resolve,
	// Addrs are the addresses given to the box.
	Addr  string   `json:"addr,omitempty"`
	Addrs []string `json:"addrs,omitempty"`
	// Allowed is the verdict; Reason says why (the rule, or what is
	// missing).
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"`
}

// ParseFlag applies one --network flag to n: "none" (no network,
// the default), "all" (every public address and name), "allow=RULE[,...]"
// or "deny=RULE[,...]" (ParseNetRule). Flags add up: "all" then
// "deny=*.example.com".
func (n *Network) ParseFlag(spec string) error {
	switch spec {
	case "none":
		*n = Network{Publish: n.Publish, Hosts: n.Hosts, DNS: n.DNS, Observe: n.Observe}
		return nil
	case "all", "host", "bridge", "default":
		// Docker's names of a network with the outside: the public
		// internet, never the host's own services.
		n.All = true
		return nil
	}
	kind, list, ok := strings.Cut(spec, "=")
	if !ok || (kind != "allow" && kind != "deny") {
		return fmt.Errorf("network %q: want none, all, allow=RULE[,RULE...] or deny=RULE[,RULE...]", spec)
	}
	if list == "" {
		return fmt.Errorf("network %q: no rule after %s=", spec, kind)
	}
	for _, s := range strings.Split(list, ",") {
		r, err := ParseNetRule(s)
		if err != nil {
			return fmt.Errorf("network %q: %w", spec, err)
		}
		if kind == "allow" {
			n.Allow = append(n.Allow, r)
		} else {
			n.Deny = append(n.Deny, r)
		}
	}
	return nil
}

// ParseNetRule parses HOST[:PORTS]. HOST is a DNS name, "*.SUFFIX", "*",
// an IPv4 address or CIDR range, or an IPv6 address or range (in
// brackets when PORTS follow: "[fd00::/8]:443"). PORTS is a port, a range
// "LO-HI", or "*" (the default: every port).
func ParseNetRule(s string) (NetRule, error) {
	if s == "" {
		return NetRule{}, errors.New("empty rule")
	}
	host, ports := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return NetRule{}, fmt.Errorf("rule %q: no ] after [", s)
		}
		host, ports = s[1:end], s[end+1:]
		if ports != "" {
			if !strings.HasPrefix(ports, ":") {
				return NetRule{}, fmt.Errorf("rule %q: want [ADDRESS]:PORTS", s)
			}
			ports = ports[1:]
			if ports == "" {
				return NetRule{}, fmt.Errorf("rule %q: no port after ':'", s)
			}
		}
	case strings.Count(s, ":") == 1:
		host, ports, _ = strings.Cut(s, ":")
		if ports == "" {
			return NetRule{}, fmt.Errorf("rule %q: no port after ':'", s)
		}
	}
	var r NetRule
	if ports != "" && ports != "*" {
		pr, err := parsePorts(ports)
		if err != nil {
			return NetRule{}, fmt.Errorf("rule %q: %w", s, err)
		}
		r.Ports = pr
	}
	if strings.Contains(host, "/") {
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return NetRule{}, fmt.Errorf("rule %q: %q is not an address range (CIDR)", s, host)
		}
		r.Prefix = unmapPrefix(p.Masked())
		return r, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return NetRule{}, fmt.Errorf("rule %q: an address with a zone is not supported", s)
		}
		a = a.Unmap()
		r.Prefix = netip.PrefixFrom(a, a.BitLen())
		return r, nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "*" {
		r.Name = name
		return r, nil
	}
	check := strings.TrimPrefix(name, "*.")
	if err := checkHostName(check); err != nil {
		return NetRule{}, fmt.Errorf("rule %q: %v", s, err)
	}
	r.Name = name
	return r, nil
}

// unmapPrefix makes an IPv4-mapped IPv6 range an IPv4 one, as addresses
// are compared unmapped.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

func parsePorts(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	b := a
	if isRange {
		if b, err = parsePort(hi); err != nil {
			return PortRange{}, err
		}
		if b < a {
			return PortRange{}, fmt.Errorf("port range %q: %d is above %d", s, a, b)
		}
	}
	return PortRange{a, b}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	return uint16(n), nil
}

// checkHostName checks a DNS name as the runner resolves it: at most 253
// bytes, labels of 1 to 63 letters, digits, '-' and '_'.
func checkHostName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return fmt.Errorf("name of %d bytes is over 253", len(name))
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("name %q: a label is empty or over 63 bytes", name)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("name %q: byte %q is not allowed in a host name", name, c)
			}
		}
	}
	return nil
}

// ParsePublish parses -p [HOSTIP:]HOSTPORT:BOXPORT (an IPv6 HOSTIP in
// brackets); the host IP defaults to 127.0.0.1, not every interface:
// publishing to the network is asked for by naming 0.0.0.0.
func ParsePublish(s string) (Publish, error) {
	var p Publish
	rest := s
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return p, fmt.Errorf("publish %q: want [HOSTIP]:HOSTPORT:BOXPORT", s)
		}
		a, err := netip.ParseAddr(rest[1:end])
		if err != nil {
			return p, fmt.Errorf("publish %q: %q is not an IP address", s, rest[1:end])
		}
		p.HostIP, rest = a, rest[end+2:]
	}
	parts := strings.Split(rest, ":")
	switch {
	case len(parts) == 3 && !p.HostIP.IsValid():
		a, err := netip.ParseAddr(parts[0])
		if err != nil {
			return p, fmt.Errorf("publish %q: %q is not an IP address", s, parts[0])
		}
		p.HostIP, parts = a, parts[1:]
	case len(parts) != 2:
		return p, fmt.Errorf("publish %q: want [HOSTIP:]HOSTPORT:BOXPORT", s)
	}
	box, proto, _ := strings.Cut(parts[1], "/")
	if proto != "" && proto != "tcp" {
		return p, fmt.Errorf("publish %q: only tcp ports can be published", s)
	}
	var err error
	if p.HostPort, err = parsePort(parts[0]); err != nil {
		return p, fmt.Errorf("publish %q: host port: %v", s, err)
	}
	if p.BoxPort, err = parsePort(box); err != nil {
		return p, fmt.Errorf("publish %q: box port: %v", s, err)
	}
	if p.HostIP.IsValid() {
		p.HostIP = p.HostIP.Unmap()
	}
	return p, nil
}

// ParseHost parses Docker's --add-host NAME:IP (NAME=IP also).
func ParseHost(s string) (string, netip.Addr, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok {
		return "", netip.Addr{}, fmt.Errorf("add-host %q: want NAME:IP", s)
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if err := checkHostName(name); err != nil {
		return "", netip.Addr{}, fmt.Errorf("add-host %q: %v", s, err)
	}
	a, err := netip.ParseAddr(strings.Trim(ip, "[]"))
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("add-host %q: %q is not an IP address", s, ip)
	}
	return name, a.Unmap(), nil
}

// check reports a policy that cannot be enforced.
func (n *Network) check() error {
	seen := map[uint16]bool{}
	for _, p := range n.Publish {
		if p.HostPort == 0 || p.BoxPort == 0 {
			return fmt.Errorf("runtime: publish %v: ports must be 1-65535", p)
		}
		if seen[p.BoxPort] {
			return fmt.Errorf("runtime: box port %d is published twice", p.BoxPort)
		}
		seen[p.BoxPort] = true
	}
	if n.DNS != "" {
		if _, err := netip.ParseAddrPort(n.DNS); err != nil {
			return fmt.Errorf("runtime: DNS server %q: want IP:PORT", n.DNS)
		}
	}
	return nil
}

// specialRanges are the addresses a policy reaches only through a rule
// that names them: loopback, private, shared (CGNAT), link-local (and the
// cloud metadata services there: 169.254.169.254, fd00:ec2::254),
// unique-local, documentation, benchmarking, multicast, reserved, and the
// IPv6 ranges that carry an IPv4 address inside (NAT64, 6to4, Teredo),
// which could lead to any of the others.
var specialRanges = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
		"2001::/32", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// specialAddress names the kind of a special-purpose address, or "" for a
// public one.
func specialAddress(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a == netip.AddrFrom4([4]byte{169, 254, 169, 254}) || a == netip.MustParseAddr("fd00:ec2::254"):
		return "cloud metadata"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	case a.IsUnspecified():
		return "unspecified"
	}
	for _, p := range specialRanges {
		if p.Contains(a) {
			return "special-purpose"
		}
	}
	return ""
}

// matchName reports whether a rule's name covers name (lower case).
func matchName(rule, name string) bool {
	switch {
	case rule == "*":
		return true
	case strings.HasPrefix(rule, "*."):
		return strings.HasSuffix(name, rule[1:]) && len(name) > len(rule)-1
	}
	return rule == name
}

// nameVerdict decides whether name may be resolved at all.
func (n *Network) nameVerdict(name string) (bool, string) {
	ok, reason := n.ownNameVerdict(name)
	if ok && n.Bound != nil {
		if ok, why := n.Bound.nameVerdict(name); !ok {
			return false, why + " (the operator's grant)"
		}
	}
	return ok, reason
}

func (n *Network) ownNameVerdict(name string) (bool, string) {
	for _, r := range n.Deny {
		if r.Name != "" && matchName(r.Name, name) {
			return false, fmt.Sprintf("network policy: the name %s is denied (--network deny=%v)", name, r)
		}
	}
	if n.All {
		return true, "--network all"
	}
	for _, r := range n.Allow {
		if r.Name != "" && matchName(r.Name, name) {
			return true, "allow=" + r.String()
		}
	}
	if len(n.Allow) == 0 {
		return false, fmt.Sprintf("network policy: the network is off for this run (--network none); %s does not resolve", name)
	}
	return false, fmt.Sprintf("network policy: no --network rule grants the name %s", name)
}

// addrVerdict decides whether ap may be connected to, given the names the
// run resolved to its address (granted names only).
func (n *Network) addrVerdict(ap netip.AddrPort, names []string) (bool, string) {
	ok, reason := n.ownAddrVerdict(ap, names)
	if ok && n.Bound != nil {
		if ok, why := n.Bound.addrVerdict(ap, names); !ok {
			return false, why + " (the operator's grant)"
		}
	}
	return ok, reason
}

func (n *Network) ownAddrVerdict(ap netip.AddrPort, names []string) (bool, string) {
	a, port := ap.Addr().Unmap(), ap.Port()
	for _, r := range n.Deny {
		if r.Name == "" && r.Prefix.Contains(a) && r.Ports.has(port) {
			return false, fmt.Sprintf("network policy: %v is denied (--network deny=%v)", ap, r)
		}
	}
	for _, r := range n.Allow {
		if r.Name == "" && r.Prefix.Contains(a) && r.Ports.has(port) {
			return true, "allow=" + r.String()
		}
	}
	if kind := specialAddress(a); kind != "" {
		return false, fmt.Sprintf("network policy: %v is a %s address; no --network rule names it", ap, kind)
	}
	if n.All {
		return true, "--network all"
	}
	for _, r := range n.Allow {
		if r.Name == "*" && r.Ports.has(port) {
			return true, "allow=" + r.String()
		}
	}
	for _, name := range names {
		for _, r := range n.Allow {
			if r.Name != "" && matchName(r.Name, name) && r.Ports.has(port) {
				return true, "allow=" + r.String() + " (" + name + ")"
			}
		}
	}
	if len(n.Allow) == 0 {
		return false, fmt.Sprintf("network policy: the network is off for this run (--network none); %v is not reachable", ap)
	}
	if len(names) > 0 {
		return false, fmt.Sprintf("network policy: %v (%s) is not granted on port %d", ap, strings.Join(names, ", "), port)
	}
	return false, fmt.Sprintf("network policy: %v is not granted; no --network rule names it or a name that resolved to it", ap)
}

// reachable reports whether some port of a is reachable for a name
// resolved to it: what a resolve gives the box.
func (n *Network) reachable(a netip.Addr) bool {
	if n.Bound != nil && !n.Bound.reachable(a) {
		return false
	}
	a = a.Unmap()
	for _, r := range n.Deny {
		if r.Name == "" && r.Prefix.Contains(a) && r.Ports == (PortRange{}) {
			return false
		}
	}
	for _, r := range n.Allow {
		if r.Name == "" && r.Prefix.Contains(a) {
			return true
		}
	}
	return specialAddress(a) == ""
}

// off reports whether the policy grants nothing at all.
func (n *Network) off() bool {
	return n == nil || (!n.All && len(n.Allow) == 0 && len(n.Publish) == 0)
}

// NetworkFlags builds the Network of the flags of wasmbox run and build:
// --network in order (ParseFlag), -p (ParsePublish), --add-host
// (ParseHost) and --dns IP[:PORT] (port 53 by default). Without any, the
// run has no network: nil.
func NetworkFlags(network, publish, addHosts []string, dns string) (*Network, error) {
	if len(network) == 0 && len(publish) == 0 && len(addHosts) == 0 && dns == "" {
		return nil, nil
	}
	n := &Network{}
	for _, s := range network {
		if err := n.ParseFlag(s); err != nil {
			return nil, err
		}
	}
	for _, s := range publish {
		p, err := ParsePublish(s)
		if err != nil {
			return nil, err
		}
		n.Publish = append(n.Publish, p)
	}
	for _, s := range addHosts {
		name, a, err := ParseHost(s)
		if err != nil {
			return nil, err
		}
		if n.Hosts == nil {
			n.Hosts = map[string][]netip.Addr{}
		}
		n.Hosts[name] = append(n.Hosts[name], a)
	}
	if dns != "" {
		ap, err := netip.ParseAddrPort(dns)
		if err != nil {
			a, err2 := netip.ParseAddr(strings.Trim(dns, "[]"))
			if err2 != nil {
				return nil, fmt.Errorf("dns %q: want IP or IP:PORT", dns)
			}
			ap = netip.AddrPortFrom(a, 53)
		}
		n.DNS = ap.String()
	}
	return n, n.check()
}
