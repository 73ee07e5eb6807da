// Package units formats byte counts for people: the CLI's tables and
// progress, the runner's limit messages, the build's reports and the bench
// all say sizes the same way, in binary units with their IEC names.
//
// It imports only the standard library.
package units

import "fmt"

// Unit is a binary multiple of a byte.
type Unit int64

// The units Size picks from.
const (
	B   Unit = 1
	KiB Unit = 1 << 10
	MiB Unit = 1 << 20
	GiB Unit = 1 << 30
	TiB Unit = 1 << 40
)

func (u Unit) String() string {
	switch u {
	case KiB:
		return "KiB"
	case MiB:
		return "MiB"
	case GiB:
		return "GiB"
	case TiB:
		return "TiB"
	}
	return "B"
}

// Size formats n bytes in the largest unit it reaches: "512 B",
// "2.5 KiB", "64 MiB", "1.2 GiB".
func Size(n int64) string {
	u := B
	for _, c := range []Unit{TiB, GiB, MiB, KiB} {
		if n >= int64(c) {
			u = c
			break
		}
	}
	return In(n, u)
}

// In formats n bytes in the unit u: a whole number when n is one ("4096
// MiB"), else with one decimal ("1.5 MiB"). Less than one u is left to
// Size ("512 B").
func In(n int64, u Unit) string {
	switch {
	case u <= B:
		return fmt.Sprintf("%d B", n)
	case n < int64(u):
		return Size(n)
	case n%int64(u) == 0:
		return fmt.Sprintf("%d %s", n/int64(u), u)
	}
	return fmt.Sprintf("%.1f %s", float64(n)/float64(u), u)
}
