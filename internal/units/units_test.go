package units

import "testing"

func TestSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{1536, "1.5 KiB"},
		{2 << 20, "2 MiB"},
		{2<<20 + 100<<10, "2.1 MiB"},
		{64 << 20, "64 MiB"},
		{3 << 30, "3 GiB"},
		{5 << 40, "5 TiB"},
	}
	for _, tc := range tests {
		if got := Size(tc.n); got != tc.want {
			t.Errorf("Size(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestIn(t *testing.T) {
	tests := []struct {
		n    int64
		u    Unit
		want string
	}{
		{4096 << 20, MiB, "4096 MiB"},
		{64 << 20, MiB, "64 MiB"},
		{3 << 19, MiB, "1.5 MiB"},
		{512, MiB, "512 B"},
		{700 << 10, MiB, "700 KiB"},
	}
	for _, tc := range tests {
		if got := In(tc.n, tc.u); got != tc.want {
			t.Errorf("In(%d, %v) = %q, want %q", tc.n, tc.u, got, tc.want)
		}
	}
}
