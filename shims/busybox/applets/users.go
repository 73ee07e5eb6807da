package applets

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// WASI has no users: a box's processes run as the uid and gid the runner
// gives them (IDs; root unless the image's USER or run --user says
// otherwise). Names come from the box's /etc/passwd and /etc/group when
// they exist.

// etcPasswd and etcGroup are variables for tests.
var (
	etcPasswd = "/etc/passwd"
	etcGroup  = "/etc/group"
)

type dbEntry struct {
	name string
	id   uint32
	gid  uint32   // passwd: primary group
	mem  []string // group: members
}

func readDB(path string) []dbEntry {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var r []dbEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 {
			continue
		}
		id, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			continue
		}
		e := dbEntry{name: fields[0], id: uint32(id)}
		if len(fields) >= 4 {
			if g, err := strconv.ParseUint(fields[3], 10, 32); err == nil {
				e.gid = uint32(g)
			}
			if fields[3] != "" && strings.HasSuffix(path, "group") {
				e.mem = strings.Split(fields[3], ",")
			}
		}
		r = append(r, e)
	}
	return r
}

// userName is the name of uid, or its number when unknown (root for 0).
func userName(uid uint32) string {
	return idName(etcPasswd, uid)
}

// groupName is the name of gid, or its number when unknown (root for 0).
func groupName(gid uint32) string {
	return idName(etcGroup, gid)
}

func idName(db string, id uint32) string {
	if n, ok := lookupID(db, id); ok {
		return n
	}
	return strconv.FormatUint(uint64(id), 10)
}

func lookupID(db string, id uint32) (string, bool) {
	for _, e := range readDB(db) {
		if e.id == id {
			return e.name, true
		}
	}
	if id == 0 {
		return "root", true
	}
	return "", false
}

// lookupUser finds a user by name or number: uid and primary gid.
func lookupUser(name string) (uid, gid uint32, ok bool) {
	for _, e := range readDB(etcPasswd) {
		if e.name == name {
			return e.id, e.gid, true
		}
	}
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		for _, e := range readDB(etcPasswd) {
			if e.id == uint32(n) {
				return e.id, e.gid, true
			}
		}
		return uint32(n), 0, true
	}
	if name == "root" {
		return 0, 0, true
	}
	return 0, 0, false
}

// lookupGroup finds a group by name or number.
func lookupGroup(name string) (uint32, bool) {
	for _, e := range readDB(etcGroup) {
		if e.name == name {
			return e.id, true
		}
	}
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(n), true
	}
	if name == "root" {
		return 0, true
	}
	return 0, false
}

// nameCache remembers user and group names for one applet run (ls -l and
// tar c ask for the same few ids many times).
type nameCache struct {
	users, groups map[uint32]string
}

func (n *nameCache) user(id uint32) string {
	if n.users == nil {
		n.users = map[uint32]string{}
	}
	s, ok := n.users[id]
	if !ok {
		s = userName(id)
		n.users[id] = s
	}
	return s
}

func (n *nameCache) group(id uint32) string {
	if n.groups == nil {
		n.groups = map[uint32]string{}
	}
	s, ok := n.groups[id]
	if !ok {
		s = groupName(id)
		n.groups[id] = s
	}
	return s
}
