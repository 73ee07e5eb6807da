package convert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wasmbox/wasmbox/internal/engine"
	"github.com/wasmbox/wasmbox/internal/passwd"
)

// applyUser makes the stage's USER the owner of what ov creates: a
// numeric uid[:gid], or names from the box's /etc/passwd and /etc/group.
func (s *stage) applyUser(ov engine.FS) error {
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

func lookupUser(ov engine.FS, spec string) (uint32, uint32, error) {
	u, err := passwd.Lookup(ov.ReadFile, spec)
	return u.UID, u.GID, err
}

// chownOwner is the owner COPY and ADD --chown=user[:group] give, by
// BuildKit's rules (its readUser), which are not USER's: a numeric user
// is both uid and gid; a user name is looked up in the box's /etc/passwd
// and, not found there (or without the file), is 0:0; a numeric group
// replaces the gid, and a group name does when /etc/group lists it.
func chownOwner(ov engine.FS, spec string) (uid, gid uint32) {
	name, group, hasGroup := strings.Cut(spec, ":")
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		uid, gid = uint32(n), uint32(n)
	} else if u, ok := passwd.ByName(ov.ReadFile, name); ok {
		uid, gid = u.UID, u.GID
	}
	if hasGroup {
		if n, err := strconv.ParseUint(group, 10, 32); err == nil {
			gid = uint32(n)
		} else if g, ok := passwd.GroupID(ov.ReadFile, group); ok {
			gid = g
		}
	}
	return uid, gid
}
