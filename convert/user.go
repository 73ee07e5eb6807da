package convert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wasmbox/wasmbox/runtime"
)

// applyUser makes the stage's USER the owner of what ov creates: a
// numeric uid[:gid], or names from the box's /etc/passwd and /etc/group.
func (s *stage) applyUser(ov *runtime.Overlay) error {
	user := s.image.Config.User
	if user == "" {
		return nil
	}
	uid, gid, err := lookupUser(ov, user)
	if err != nil {
		return fmt.Errorf("USER %s: %w", user, err)
	}
	ov.SetOwner(uid, gid)
	return nil
}

func lookupUser(ov *runtime.Overlay, spec string) (uint32, uint32, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	uid, gid, found := uint32(0), uint32(0), false
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		uid, found = uint32(n), true
		// The primary group of a numeric user is in passwd too, if listed.
		if u, g, ok := passwdEntry(ov, func(f []string) bool { return f[2] == name }); ok {
			uid, gid = u, g
		}
	} else if u, g, ok := passwdEntry(ov, func(f []string) bool { return f[0] == name }); ok {
		uid, gid, found = u, g, true
	}
	if !found {
		return 0, 0, fmt.Errorf("no user %q in the box's /etc/passwd", name)
	}
	if hasGroup {
		if n, err := strconv.ParseUint(group, 10, 32); err == nil {
			gid = uint32(n)
		} else if g, ok := groupEntry(ov, group); ok {
			gid = g
		} else {
			return 0, 0, fmt.Errorf("no group %q in the box's /etc/group", group)
		}
	}
	return uid, gid, nil
}

// chownOwner is the owner COPY and ADD --chown=user[:group] give, by
// BuildKit's rules (its readUser), which are not USER's: a numeric user
// is both uid and gid; a user name is looked up in the box's /etc/passwd
// and, not found there (or without the file), is 0:0; a numeric group
// replaces the gid, and a group name does when /etc/group lists it.
func chownOwner(ov *runtime.Overlay, spec string) (uid, gid uint32) {
	name, group, hasGroup := strings.Cut(spec, ":")
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		uid, gid = uint32(n), uint32(n)
	} else if u, g, ok := passwdEntry(ov, func(f []string) bool { return f[0] == name }); ok {
		uid, gid = u, g
	}
	if hasGroup {
		if n, err := strconv.ParseUint(group, 10, 32); err == nil {
			gid = uint32(n)
		} else if g, ok := groupEntry(ov, group); ok {
			gid = g
		}
	}
	return uid, gid
}

func passwdEntry(ov *runtime.Overlay, match func([]string) bool) (uint32, uint32, bool) {
	data, err := ov.ReadFile("/etc/passwd")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || !match(f) {
			continue
		}
		u, err1 := strconv.ParseUint(f[2], 10, 32)
		g, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 == nil && err2 == nil {
			return uint32(u), uint32(g), true
		}
	}
	return 0, 0, false
}

func groupEntry(ov *runtime.Overlay, name string) (uint32, bool) {
	data, err := ov.ReadFile("/etc/group")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			if g, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				return uint32(g), true
			}
		}
	}
	return 0, false
}
