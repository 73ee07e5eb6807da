// Package passwd resolves a Docker USER (name or uid, with an optional
// group or gid) in a box's /etc/passwd and /etc/group, for the build
// (owner of what RUN, COPY and WORKDIR create) and the runner (the ids a
// box runs as, its HOME). It reads the files through a function, so it
// knows nothing of where the box's file system lives.
package passwd

import (
	"fmt"
	"strconv"
	"strings"
)

// User is a resolved USER.
type User struct {
	UID, GID uint32
	// Home is the user's home directory from /etc/passwd; "/root" for
	// root and "/" for a numeric user the file does not list, as runc
	// sets HOME.
	Home string
}

// Lookup resolves spec ("name", "uid", "name:group", "uid:gid"...) with
// readFile reading the box's files. A numeric uid need not be listed (its
// group is then 0); a name must be. An empty spec is root.
func Lookup(readFile func(string) ([]byte, error), spec string) (User, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "" {
		name = "0"
	}
	var (
		u     User
		found bool
	)
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		u, found = User{UID: uint32(n), Home: "/"}, true
		if n == 0 {
			u.Home = "/root"
		}
		// The group and home of a numeric user are in passwd too, if listed.
		if e, ok := entry(readFile, func(f []string) bool { return f[2] == name }); ok {
			u = e
		}
	} else if e, ok := ByName(readFile, name); ok {
		u, found = e, true
	}
	if !found {
		return User{}, fmt.Errorf("no user %q in the box's /etc/passwd", name)
	}
	if hasGroup {
		if n, err := strconv.ParseUint(group, 10, 32); err == nil {
			u.GID = uint32(n)
		} else if g, ok := groupID(readFile, group); ok {
			u.GID = g
		} else {
			return User{}, fmt.Errorf("no group %q in the box's /etc/group", group)
		}
	}
	return u, nil
}

// ByName finds the user name in /etc/passwd.
func ByName(readFile func(string) ([]byte, error), name string) (User, bool) {
	return entry(readFile, func(f []string) bool { return f[0] == name })
}

// GroupID finds the group name in /etc/group.
func GroupID(readFile func(string) ([]byte, error), name string) (uint32, bool) {
	return groupID(readFile, name)
}

func entry(readFile func(string) ([]byte, error), match func([]string) bool) (User, bool) {
	data, err := readFile("/etc/passwd")
	if err != nil {
		return User{}, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || !match(f) {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		u := User{UID: uint32(uid), GID: uint32(gid), Home: "/"}
		if len(f) >= 6 && strings.HasPrefix(f[5], "/") {
			u.Home = f[5]
		}
		return u, true
	}
	return User{}, false
}

func groupID(readFile func(string) ([]byte, error), name string) (uint32, bool) {
	data, err := readFile("/etc/group")
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
