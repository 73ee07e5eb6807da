package convert

import (
	"fmt"

	"github.com/wasmbox/wasmbox/internal/passwd"
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
	u, err := passwd.Lookup(ov.ReadFile, spec)
	return u.UID, u.GID, err
}
