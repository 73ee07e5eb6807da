//go:build unix && !linux

package cowmem

import "os"

// privateFile is an unlinked temporary file: no path reaches it.
func privateFile(size int64) (*os.File, error) {
	f, err := os.CreateTemp("", "wasmsnap-image")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

func seal(f *os.File) error { return nil }
