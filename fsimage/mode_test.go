package fsimage

import (
	"io/fs"
	"testing"
)

func TestUnixMode(t *testing.T) {
	tests := []struct {
		m fs.FileMode
		u uint32
	}{
		{0o644, 0o100644},
		{0, 0o100000},
		{fs.ModeDir | 0o755, 0o040755},
		{fs.ModeDir | fs.ModeSticky | 0o777, 0o041777},
		{fs.ModeSymlink | 0o777, 0o120777},
		{fs.ModeSetuid | fs.ModeSetgid | 0o755, 0o106755},
		{fs.ModeNamedPipe | 0o600, 0o010600},
		{fs.ModeSocket | 0o600, 0o140600},
		{fs.ModeDevice | fs.ModeCharDevice | 0o666, 0o020666},
		{fs.ModeDevice | 0o660, 0o060660},
	}
	for _, tc := range tests {
		if got := UnixMode(tc.m); got != tc.u {
			t.Errorf("UnixMode(%v) = %#o, want %#o", tc.m, got, tc.u)
		}
		if got := GoMode(tc.u); got != tc.m {
			t.Errorf("GoMode(%#o) = %v, want %v", tc.u, got, tc.m)
		}
	}
	// Permission bits only: no type either way.
	if got := GoMode(0o4755); got != fs.ModeSetuid|0o755 {
		t.Errorf("GoMode(0o4755) = %v", got)
	}
	if got := UnixMode(fs.ModeSticky|0o1777) & 0o7777; got != 0o1777 {
		t.Errorf("UnixMode(sticky 0o777)&0o7777 = %#o", got)
	}
}
