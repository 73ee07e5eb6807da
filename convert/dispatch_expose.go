package convert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// dispatchExpose records ports as Docker does: PORT[/PROTO], PROTO tcp by
// default, and START-END ranges expanded.
func (s *stage) dispatchExpose(c *instructions.ExposeCommand) error {
	expand := s.b.expander(s.expandEnv())
	if s.image.Config.ExposedPorts == nil {
		s.image.Config.ExposedPorts = map[string]struct{}{}
	}
	var added []string
	for _, raw := range c.Ports {
		p, err := expand(raw)
		if err != nil {
			return err
		}
		ports, err := parsePorts(p)
		if err != nil {
			return fmt.Errorf("EXPOSE %s: %w", raw, err)
		}
		for _, port := range ports {
			s.image.Config.ExposedPorts[port] = struct{}{}
			added = append(added, port)
		}
	}
	s.addEmptyHistory("EXPOSE " + strings.Join(added, " "))
	return nil
}

func parsePorts(spec string) ([]string, error) {
	port, proto, hasProto := strings.Cut(spec, "/")
	proto = strings.ToLower(proto)
	if !hasProto {
		proto = "tcp"
	}
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("unknown protocol %q (tcp, udp or sctp)", proto)
	}
	lo, hi, isRange := strings.Cut(port, "-")
	start, err := parsePort(lo)
	if err != nil {
		return nil, err
	}
	end := start
	if isRange {
		if end, err = parsePort(hi); err != nil {
			return nil, err
		}
		if end < start {
			return nil, fmt.Errorf("port range %s ends before it starts", port)
		}
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return n, nil
}
