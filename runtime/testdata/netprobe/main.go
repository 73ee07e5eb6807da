//go:build wasip1

// netprobe is the network tests' guest (runtime/net_test.go): it uses the
// wasmbox_net ABI (shims/ABI.md) directly, and through Go's own net
// package on the descriptors the runner gives, as the busybox applets do.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

//go:wasmimport wasmbox_net socket
func netSocket(family, typ uint32, fdOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_net socketpair
func netSocketpair(fdsOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_net connect
func netConnect(fd uint32, addr unsafe.Pointer) uint32

//go:wasmimport wasmbox_net bind
func netBind(fd uint32, addr unsafe.Pointer) uint32

//go:wasmimport wasmbox_net listen
func netListen(fd, backlog uint32) uint32

//go:wasmimport wasmbox_net accept
func netAccept(fd uint32, fdOut, addr unsafe.Pointer) uint32

//go:wasmimport wasmbox_net getopt
func netGetopt(fd, opt uint32, out unsafe.Pointer) uint32

//go:wasmimport wasmbox_net resolve
func netResolve(name unsafe.Pointer, nameLen, family uint32, out unsafe.Pointer, outMax uint32, nOut unsafe.Pointer) uint32

//go:wasmimport wasi_snapshot_preview1 sock_recv
func sockRecv(fd uint32, iovs unsafe.Pointer, n uint32, flags uint32, nOut, flagsOut unsafe.Pointer) uint32

//go:wasmimport wasmbox_net last_error
func netLastError(buf unsafe.Pointer, bufLen uint32, nOut unsafe.Pointer) uint32

type errno uint32

func (e errno) Error() string {
	var buf [512]byte
	var n uint32
	netLastError(unsafe.Pointer(&buf[0]), uint32(len(buf)), unsafe.Pointer(&n))
	return fmt.Sprintf("errno %d: %s", uint32(e), buf[:n])
}

func check(e uint32) error {
	if e != 0 {
		return errno(e)
	}
	return nil
}

func encode(ap netip.AddrPort) [20]byte {
	var b [20]byte
	fam := uint16(6)
	if ap.Addr().Is4() {
		fam = 4
		a := ap.Addr().As4()
		copy(b[4:], a[:])
	} else {
		a := ap.Addr().As16()
		copy(b[4:], a[:])
	}
	binary.LittleEndian.PutUint16(b[0:], fam)
	binary.LittleEndian.PutUint16(b[2:], ap.Port())
	return b
}

func resolve(name string, max uint32) ([]netip.Addr, error) {
	out := make([]byte, 20*max+1)
	var n uint32
	b := []byte(name)
	if len(b) == 0 {
		b = []byte{0}
	}
	if e := netResolve(unsafe.Pointer(&b[0]), uint32(len(name)), 0, unsafe.Pointer(&out[0]), max, unsafe.Pointer(&n)); e != 0 {
		return nil, errno(e)
	}
	var addrs []netip.Addr
	for i := uint32(0); i < n; i++ {
		r := out[i*20 : i*20+20]
		if binary.LittleEndian.Uint16(r) == 4 {
			addrs = append(addrs, netip.AddrFrom4([4]byte(r[4:8])))
		} else {
			addrs = append(addrs, netip.AddrFrom16([16]byte(r[4:20])))
		}
	}
	return addrs, nil
}

// dial connects a blocking socket (the runner waits), as C code does.
func dial(addr string) (int, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		host, port, _ := strings.Cut(addr, ":")
		as, err := resolve(host, 4)
		if err != nil {
			return -1, fmt.Errorf("resolve %s: %w", host, err)
		}
		p, _ := strconv.Atoi(port)
		ap = netip.AddrPortFrom(as[0], uint16(p))
	}
	var fd uint32
	fam := uint32(4)
	if ap.Addr().Is6() {
		fam = 6
	}
	if err := check(netSocket(fam, 1, unsafe.Pointer(&fd))); err != nil {
		return -1, err
	}
	rec := encode(ap)
	if err := check(netConnect(fd, unsafe.Pointer(&rec))); err != nil {
		syscall.Close(int(fd))
		return -1, err
	}
	return int(fd), nil
}

// goDial connects non-blocking and hands the descriptor to Go's net
// package, whose poller then waits through poll_oneoff.
func goDial(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	var fd uint32
	if err := check(netSocket(4, 1, unsafe.Pointer(&fd))); err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(int(fd), true); err != nil {
		return nil, err
	}
	rec := encode(ap)
	if e := netConnect(fd, unsafe.Pointer(&rec)); e != 0 && e != 26 /* EINPROGRESS */ {
		syscall.Close(int(fd))
		return nil, errno(e)
	}
	f := os.NewFile(uintptr(fd), "socket")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	// Writable once connected (or failed): the poller waits for it.
	if _, err := c.Write(nil); err != nil {
		c.Close()
		return nil, err
	}
	var soerr uint32
	for i := 0; i < 2000; i++ {
		if e := netGetopt(fd, 1, unsafe.Pointer(&soerr)); e != 0 {
			c.Close()
			return nil, errno(e)
		}
		if soerr != 0 {
			c.Close()
			return nil, errno(soerr)
		}
		var rec [20]byte
		if netGetaddrPeer(fd, &rec) == 0 {
			return c, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	return nil, fmt.Errorf("connect to %s: no outcome", addr)
}

//go:wasmimport wasmbox_net getaddr
func netGetaddr(fd, which uint32, addr unsafe.Pointer) uint32

func netGetaddrPeer(fd uint32, rec *[20]byte) uint32 {
	return netGetaddr(fd, 1, unsafe.Pointer(rec))
}

func listen(port int) (uint32, error) {
	var fd uint32
	if err := check(netSocket(4, 1, unsafe.Pointer(&fd))); err != nil {
		return 0, err
	}
	rec := encode(netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)))
	if err := check(netBind(fd, unsafe.Pointer(&rec))); err != nil {
		return 0, err
	}
	if err := check(netListen(fd, 16)); err != nil {
		return 0, err
	}
	return fd, nil
}

func accept(lfd uint32) (*os.File, error) {
	var fd uint32
	var rec [20]byte
	if err := check(netAccept(lfd, unsafe.Pointer(&fd), unsafe.Pointer(&rec))); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "conn"), nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "netprobe:", err)
	os.Exit(1)
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		fail(fmt.Errorf("no command"))
	}
	switch args[0] {
	case "get": // get ADDR PATH: HTTP/1.0 GET over a blocking socket
		fd, err := dial(args[1])
		if err != nil {
			fail(err)
		}
		f := os.NewFile(uintptr(fd), "socket")
		fmt.Fprintf(f, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", args[2], args[1])
		body, err := io.ReadAll(f)
		if err != nil {
			fail(err)
		}
		f.Close()
		_, b, _ := strings.Cut(string(body), "\r\n\r\n")
		fmt.Print(b)
	case "http": // http URL: net/http over descriptors the poller drives
		tr := &http.Transport{DialContext: goDial}
		c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		resp, err := c.Get(args[1])
		if err != nil {
			fail(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s", resp.StatusCode, b)
	case "resolve":
		addrs, err := resolve(args[1], 8)
		if err != nil {
			fail(err)
		}
		fmt.Println(addrs)
	case "hugename": // a 1 MB name
		name := strings.Repeat("a", 1<<20)
		_, err := resolve(name, 8)
		fmt.Println(err)
	case "serve": // serve PORT N: answer N HTTP requests
		port, _ := strconv.Atoi(args[1])
		n, _ := strconv.Atoi(args[2])
		lfd, err := listen(port)
		if err != nil {
			fail(err)
		}
		fmt.Println("listening")
		for i := 0; i < n; i++ {
			f, err := accept(lfd)
			if err != nil {
				fail(err)
			}
			r := bufio.NewReader(f)
			line, _ := r.ReadString('\n')
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == "\r\n" {
					break
				}
			}
			body := "box answered " + strings.TrimSpace(line) + "\n"
			fmt.Fprintf(f, "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			f.Close()
		}
	case "self": // self PORT: listen, connect to itself on loopback, round trip
		port, _ := strconv.Atoi(args[1])
		lfd, err := listen(port)
		if err != nil {
			fail(err)
		}
		cfd, err := dial("127.0.0.1:" + args[1])
		if err != nil {
			fail(err)
		}
		s, err := accept(lfd)
		if err != nil {
			fail(err)
		}
		c := os.NewFile(uintptr(cfd), "client")
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		io.ReadFull(s, buf)
		s.Write(append(buf, "-pong"...))
		s.Close()
		b, _ := io.ReadAll(c)
		fmt.Println(string(b))
	case "waitall": // waitall PORT N: accept, then one recv(MSG_WAITALL) of N bytes
		lfd, err := listen(mustAtoi(args[1]))
		if err != nil {
			fail(err)
		}
		fmt.Println("listening")
		f, err := accept(lfd)
		if err != nil {
			fail(err)
		}
		buf := make([]byte, mustAtoi(args[2]))
		iov := [2]uint32{uint32(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf))}
		var n uint32
		var oflags uint16
		if err := check(sockRecv(uint32(f.Fd()), unsafe.Pointer(&iov), 1, 2, unsafe.Pointer(&n), unsafe.Pointer(&oflags))); err != nil {
			fail(err)
		}
		fmt.Printf("%q\n", buf[:n])
	case "pair":
		var fds [2]uint32
		if err := check(netSocketpair(unsafe.Pointer(&fds))); err != nil {
			fail(err)
		}
		// Non-blocking, so that Go's poller runs the writer while the
		// reader waits (a blocking call would stop the whole guest).
		syscall.SetNonblock(int(fds[0]), true)
		syscall.SetNonblock(int(fds[1]), true)
		a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
		big := strings.Repeat("x", 200<<10) // more than a buffer: the writer waits
		go func() {
			a.Write([]byte(big))
			a.Close()
		}()
		got, err := io.ReadAll(b)
		if err != nil {
			fail(err)
		}
		fmt.Println(len(got) == len(big), len(got))
	case "many": // many N: open N sockets and keep them
		n, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			var fd uint32
			if err := check(netSocket(4, 1, unsafe.Pointer(&fd))); err != nil {
				fail(fmt.Errorf("socket %d: %w", i, err))
			}
		}
		fmt.Println("opened", n)
	case "listen": // listen PORT: bind and listen, then exit
		if _, err := listen(mustAtoi(args[1])); err != nil {
			fail(err)
		}
		fmt.Println("listening")
	case "fdops": // what a socket descriptor answers to file calls
		var fd uint32
		if err := check(netSocket(4, 1, unsafe.Pointer(&fd))); err != nil {
			fail(err)
		}
		var st syscall.Stat_t
		err := syscall.Fstat(int(fd), &st)
		_, serr := syscall.Seek(int(fd), 0, 0)
		fmt.Println(err, st.Filetype == syscall.FILETYPE_SOCKET_STREAM, serr)
	default:
		fail(fmt.Errorf("unknown command %s", args[0]))
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail(err)
	}
	return n
}
