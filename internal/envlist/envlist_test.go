package envlist

import (
	"slices"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		key   string
		want  string
		found bool
	}{
		{name: "absent", env: []string{"A=1"}, key: "B"},
		{name: "empty list", key: "A"},
		{name: "set", env: []string{"A=1", "B=2"}, key: "B", want: "2", found: true},
		{name: "empty value", env: []string{"A="}, key: "A", found: true},
		{name: "value with =", env: []string{"A=b=c"}, key: "A", want: "b=c", found: true},
		{name: "no = assigns nothing", env: []string{"A"}, key: "A"},
		{name: "prefix is not the key", env: []string{"AB=1"}, key: "A"},
		// runtime scanned from the end and convert from the start: the
		// same image gave PATH two values.
		{name: "last assignment wins", env: []string{"PATH=/a", "X=1", "PATH=/b"}, key: "PATH", want: "/b", found: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found := Lookup(tc.env, tc.key)
			if got != tc.want || found != tc.found {
				t.Errorf("Lookup(%q, %q) = %q, %v; want %q, %v", tc.env, tc.key, got, found, tc.want, tc.found)
			}
		})
	}
}

func TestSetUnset(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		key, value string
		want       []string
	}{
		{name: "append", env: []string{"A=1"}, key: "B", value: "2", want: []string{"A=1", "B=2"}},
		{name: "in place", env: []string{"A=1", "B=2", "C=3"}, key: "B", value: "x", want: []string{"A=1", "B=x", "C=3"}},
		{name: "duplicates", env: []string{"P=/a", "X=1", "P=/b"}, key: "P", value: "/c", want: []string{"P=/c", "X=1"}},
		{name: "empty", key: "A", value: "", want: []string{"A="}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Set(slices.Clone(tc.env), tc.key, tc.value)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Set(%q, %q, %q) = %q, want %q", tc.env, tc.key, tc.value, got, tc.want)
			}
			if v, _ := Lookup(got, tc.key); v != tc.value {
				t.Errorf("Lookup after Set = %q, want %q", v, tc.value)
			}
		})
	}
	env := []string{"A=1", "B=2", "A=3", "AB=4"}
	if got, want := Unset(env, "A"), []string{"B=2", "AB=4"}; !slices.Equal(got, want) {
		t.Errorf("Unset = %q, want %q", got, want)
	}
	if env[0] != "A=1" {
		t.Errorf("Unset changed its input: %q", env)
	}
}
