package passwd

import (
	"io/fs"
	"testing"
)

func TestLookup(t *testing.T) {
	files := map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\nbad:x:z:0::/:/bin/sh\n",
		"/etc/group":  "root:x:0:\napp:x:1001:\nstaff:x:50:app\n",
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
	for _, tc := range []struct {
		spec string
		want User
		err  bool
	}{
		{"", User{0, 0, "/root"}, false},
		{"root", User{0, 0, "/root"}, false},
		{"app", User{1000, 1001, "/home/app"}, false},
		{"1000", User{1000, 1001, "/home/app"}, false},
		{"app:staff", User{1000, 50, "/home/app"}, false},
		{"app:7", User{1000, 7, "/home/app"}, false},
		{"4242", User{4242, 0, "/"}, false},
		{"4242:4243", User{4242, 4243, "/"}, false},
		{"nobody", User{}, true},
		{"app:nogroup", User{}, true},
		{"bad", User{}, true},
	} {
		got, err := Lookup(read, tc.spec)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v (error %v)", tc.spec, got, err, tc.want, tc.err)
		}
	}
	// No /etc/passwd at all (a scratch box): root and numeric users only.
	none := func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	if u, err := Lookup(none, ""); err != nil || u != (User{0, 0, "/root"}) {
		t.Errorf("root without /etc/passwd: %+v, %v", u, err)
	}
}
