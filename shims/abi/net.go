package abi

import (
	"encoding/binary"
	"net/netip"
)

// NetModuleName is the import module name of the network host functions
// (shims/ABI.md, "The network ABI").
const NetModuleName = "wasmbox_net"

// The network host functions, by their export names.
const (
	NetSocket     = "socket"
	NetSocketpair = "socketpair"
	NetConnect    = "connect"
	NetBind       = "bind"
	NetListen     = "listen"
	NetAccept     = "accept"
	NetGetaddr    = "getaddr"
	NetGetopt     = "getopt"
	NetSetopt     = "setopt"
	NetResolve    = "resolve"
	NetLastError  = "last_error"
)

// Families and types of socket.
const (
	FamilyAny  = 0 // resolve: both
	FamilyIPv4 = 4
	FamilyIPv6 = 6

	TypeStream = 1
)

// The options of getopt and setopt.
const (
	OptError      = 1 // get only: the errno of a finished connect, then 0
	OptType       = 2 // get only: TypeStream
	OptNoDelay    = 3 // TCP_NODELAY
	OptKeepAlive  = 4 // SO_KEEPALIVE
	OptReuseAddr  = 5 // accepted, no effect
	OptRcvBuf     = 6
	OptSndBuf     = 7
	OptAcceptConn = 8 // get only: 1 for a listening socket
)

// The errno values of sockets (WASI's numbering).
const (
	EADDRINUSE      Errno = 3
	EADDRNOTAVAIL   Errno = 4
	EAFNOSUPPORT    Errno = 5
	EALREADY        Errno = 7
	ECONNABORTED    Errno = 13
	ECONNREFUSED    Errno = 14
	ECONNRESET      Errno = 15
	EHOSTUNREACH    Errno = 23
	EINPROGRESS     Errno = 26
	EISCONN         Errno = 30
	EMFILE          Errno = 33
	ENOMEM          Errno = 48
	ENETUNREACH     Errno = 40
	ENOPROTOOPT     Errno = 50
	ENOTCONN        Errno = 53
	ENOTSOCK        Errno = 57
	EPROTONOSUPPORT Errno = 66
	ESPIPE          Errno = 70
	ETIMEDOUT       Errno = 73
)

func init() {
	for e, s := range map[Errno]string{
		EADDRINUSE:      "address already in use",
		EADDRNOTAVAIL:   "address not available",
		EAFNOSUPPORT:    "address family not supported",
		EALREADY:        "connection already in progress",
		ECONNABORTED:    "connection aborted",
		ECONNREFUSED:    "connection refused",
		ECONNRESET:      "connection reset by peer",
		EHOSTUNREACH:    "no route to host",
		EINPROGRESS:     "operation in progress",
		EISCONN:         "socket is connected",
		EMFILE:          "too many open files",
		ENOMEM:          "out of memory",
		ENETUNREACH:     "network is unreachable",
		ENOPROTOOPT:     "protocol not available",
		ENOTCONN:        "socket is not connected",
		ENOTSOCK:        "not a socket",
		EPROTONOSUPPORT: "protocol not supported",
		ESPIPE:          "illegal seek",
		ETIMEDOUT:       "connection timed out",
	} {
		errnoNames[e] = s
	}
}

// AddrSize is the size of an address record.
const AddrSize = 20

// EncodeAddr returns ap as an address record: u16 family (4 or 6), u16
// port, 16 bytes of address (IPv4 in the first 4), little-endian.
func EncodeAddr(ap netip.AddrPort) [AddrSize]byte {
	var b [AddrSize]byte
	a := ap.Addr().Unmap()
	fam := uint16(FamilyIPv6)
	if a.Is4() {
		fam = FamilyIPv4
		v4 := a.As4()
		copy(b[4:], v4[:])
	} else {
		v6 := a.As16()
		copy(b[4:], v6[:])
	}
	binary.LittleEndian.PutUint16(b[0:], fam)
	binary.LittleEndian.PutUint16(b[2:], ap.Port())
	return b
}

// DecodeAddr reads an address record; ok is false for an unknown family.
func DecodeAddr(b [AddrSize]byte) (ap netip.AddrPort, ok bool) {
	port := binary.LittleEndian.Uint16(b[2:])
	switch binary.LittleEndian.Uint16(b[0:]) {
	case FamilyIPv4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port), true
	case FamilyIPv6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[4:20])), port), true
	}
	return netip.AddrPort{}, false
}
