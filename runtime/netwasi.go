package runtime

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmbox/wasmbox/shims/abi"
)

// WASI calls on a socket's descriptor, served by the runner (shims/ABI.md).

// fdParams lists, for each WASI function that takes descriptors, which of
// its parameters are descriptors.
var fdParams = map[string][]int{
	"fd_advise": {0}, "fd_allocate": {0}, "fd_close": {0}, "fd_datasync": {0},
	"fd_fdstat_get": {0}, "fd_fdstat_set_flags": {0}, "fd_fdstat_set_rights": {0},
	"fd_filestat_get": {0}, "fd_filestat_set_size": {0}, "fd_filestat_set_times": {0},
	"fd_pread": {0}, "fd_prestat_get": {0}, "fd_prestat_dir_name": {0}, "fd_pwrite": {0},
	"fd_read": {0}, "fd_readdir": {0}, "fd_renumber": {0, 1}, "fd_seek": {0}, "fd_sync": {0},
	"fd_tell": {0}, "fd_write": {0},
	"path_create_directory": {0}, "path_filestat_get": {0}, "path_filestat_set_times": {0},
	"path_link": {0, 3}, "path_open": {0}, "path_readlink": {0}, "path_remove_directory": {0},
	"path_rename": {0, 2}, "path_symlink": {2}, "path_unlink_file": {0},
	"sock_accept": {0}, "sock_recv": {0}, "sock_send": {0}, "sock_shutdown": {0},
}

// What a WASI call that makes no sense on a socket answers, as Linux does.
var sockRefusals = map[string]abi.Errno{
	"fd_advise": abi.ESPIPE, "fd_allocate": abi.ESPIPE, "fd_pread": abi.ESPIPE, "fd_pwrite": abi.ESPIPE,
	"fd_seek": abi.ESPIPE, "fd_tell": abi.ESPIPE,
	"fd_datasync": abi.EINVAL, "fd_sync": abi.EINVAL, "fd_filestat_set_size": abi.EINVAL,
	"fd_filestat_set_times": abi.EINVAL,
	"fd_prestat_get":        abi.EBADF, "fd_prestat_dir_name": abi.EBADF,
	"fd_readdir": abi.ENOTDIR, "path_create_directory": abi.ENOTDIR, "path_filestat_get": abi.ENOTDIR,
	"path_filestat_set_times": abi.ENOTDIR, "path_link": abi.ENOTDIR, "path_open": abi.ENOTDIR,
	"path_readlink": abi.ENOTDIR, "path_remove_directory": abi.ENOTDIR, "path_rename": abi.ENOTDIR,
	"path_symlink": abi.ENOTDIR, "path_unlink_file": abi.ENOTDIR,
}

// serve serves the WASI call name when it is on a socket of np, and
// reports whether it did; fn is wazero's own function.
func (np *netProc) serve(ctx context.Context, m api.Module, name string, stack []uint64, fn api.GoModuleFunction) bool {
	idx, ok := fdParams[name]
	if !ok {
		return false
	}
	var s *sock
	for _, i := range idx {
		if s = np.get(int32(stack[i])); s != nil {
			break
		}
	}
	if s == nil {
		return false
	}
	fd := int32(stack[0])
	var e uint32
	switch name {
	case "fd_close":
		np.closeFD(ctx, m, fd)
		stack[0] = 0
		return true
	case "fd_renumber":
		from, to := int32(stack[0]), int32(stack[1])
		fn.Call(ctx, m, stack)
		if stack[0] == 0 && from != to {
			if old := np.take(to); old != nil {
				np.release(old)
			}
			if moved := np.take(from); moved != nil {
				np.add(to, moved)
			}
		}
		return true
	case "fd_read":
		e = np.readv(ctx, m, s, uint32(stack[1]), uint32(stack[2]), uint32(stack[3]), false, false)
	case "sock_recv":
		flags := uint32(stack[3])
		e = np.readv(ctx, m, s, uint32(stack[1]), uint32(stack[2]), uint32(stack[4]), flags&1 != 0, flags&2 != 0)
		if e == 0 && !m.Memory().WriteUint16Le(uint32(stack[5]), 0) {
			e = errnoFAULT
		}
	case "fd_write":
		e = np.writev(ctx, m, s, uint32(stack[1]), uint32(stack[2]), uint32(stack[3]))
	case "sock_send":
		e = np.writev(ctx, m, s, uint32(stack[1]), uint32(stack[2]), uint32(stack[4]))
	case "sock_shutdown":
		s.mu.Lock()
		e = uint32(s.shutdown(uint32(stack[1])))
		s.mu.Unlock()
	case "sock_accept":
		q, errno := np.accept(ctx, m, s)
		if e = errno; e == 0 {
			if _, e = np.newFD(ctx, m, uint32(stack[2]), q); e == 0 {
				q.mu.Lock()
				q.nonblock = uint32(stack[1])&fdflagNonblock != 0
				q.mu.Unlock()
			}
		}
	case "fd_fdstat_get":
		e = np.fdstat(m, s, uint32(stack[1]))
	case "fd_fdstat_set_flags":
		s.mu.Lock()
		s.nonblock = uint32(stack[1])&fdflagNonblock != 0
		s.mu.Unlock()
	case "fd_fdstat_set_rights":
	case "fd_filestat_get":
		var st [64]byte
		st[16] = filetypeSocketStream
		st[24] = 1 // nlink
		if !m.Memory().Write(uint32(stack[1]), st[:]) {
			e = errnoFAULT
		}
	default:
		e = uint32(sockRefusals[name])
		if e == 0 {
			e = errnoBADF
		}
	}
	stack[0] = uint64(e)
	return true
}

const (
	fdflagNonblock       = 4
	filetypeSocketStream = 6
	rightsAll            = ^uint64(0) >> 35 // the 29 rights of preview 1
)

func (np *netProc) fdstat(m api.Module, s *sock, out uint32) uint32 {
	var st [24]byte
	st[0] = filetypeSocketStream
	s.mu.Lock()
	if s.nonblock {
		binary.LittleEndian.PutUint16(st[2:], fdflagNonblock)
	}
	s.mu.Unlock()
	binary.LittleEndian.PutUint64(st[8:], rightsAll)
	binary.LittleEndian.PutUint64(st[16:], rightsAll)
	if !m.Memory().Write(out, st[:]) {
		return errnoFAULT
	}
	return 0
}

// maxIovecs bounds the iovec array of one call, as Linux's IOV_MAX.
const maxIovecs = 1024

// iovecs reads an iovec array, bounded by maxIovecs and by the caller's
// memory.
func iovecs(m api.Module, iovs, n uint32) ([][]byte, bool) {
	if n > maxIovecs {
		return nil, false
	}
	mem := m.Memory()
	out := make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		ptr, ok1 := mem.ReadUint32Le(iovs + i*8)
		l, ok2 := mem.ReadUint32Le(iovs + i*8 + 4)
		if !ok1 || !ok2 {
			return nil, false
		}
		b, ok := mem.Read(ptr, l)
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// readv receives into the iovecs at iovs and writes the count at nOut;
// it waits for data when s blocks (waitAll: until every iovec is full or
// the stream ends).
func (np *netProc) readv(ctx context.Context, m api.Module, s *sock, iovs, n, nOut uint32, peek, waitAll bool) uint32 {
	bufs, ok := iovecs(m, iovs, n)
	if !ok {
		return errnoFAULT
	}
	total := 0
	for {
		ch := np.wake.wait()
		s.mu.Lock()
		var e abi.Errno
		got := 0
		for _, b := range bufs {
			if len(b) == 0 {
				continue
			}
			var k int
			k, e = s.read(b, peek)
			got += k
			if k < len(b) || e != 0 {
				break
			}
		}
		total += got
		bufs = trimFilled(bufs, got)
		nonblock := s.nonblock
		ended := s.reof || s.rshut || s.rerr != 0 || s.state != sockConnected
		s.mu.Unlock()
		more := waitAll && !peek && !nonblock && len(bufs) > 0 && !ended
		switch {
		case e != 0 && e != abi.EAGAIN:
			if total == 0 {
				return uint32(e)
			}
			more = false
		case total == 0 && e == abi.EAGAIN:
			if nonblock {
				return errnoAGAIN
			}
			more = true
		}
		if !more {
			return counted(m, nOut, total, 0)
		}
		if e := np.block(ctx, m, ch, time.Time{}); e != 0 {
			return counted(m, nOut, total, e)
		}
	}
}

// counted answers a read or write that moved n bytes: their count at
// nOut and success, or, when nothing moved, e.
func counted(m api.Module, nOut uint32, n int, e uint32) uint32 {
	if n == 0 && e != 0 {
		return e
	}
	if !m.Memory().WriteUint32Le(nOut, uint32(n)) {
		return errnoFAULT
	}
	return 0
}

// trimFilled drops the first n bytes of bufs, which a round filled (for
// MSG_WAITALL's next round).
func trimFilled(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 && n > 0 {
		bufs = append([][]byte{bufs[0][n:]}, bufs[1:]...)
	}
	return bufs
}

// writev sends the iovecs at iovs and writes the count at nOut; it waits
// for room when s blocks, until all is sent.
func (np *netProc) writev(ctx context.Context, m api.Module, s *sock, iovs, n, nOut uint32) uint32 {
	bufs, ok := iovecs(m, iovs, n)
	if !ok {
		return errnoFAULT
	}
	total := 0
	for {
		ch := np.wake.wait()
		s.mu.Lock()
		var e abi.Errno
		for len(bufs) > 0 {
			if len(bufs[0]) == 0 {
				bufs = bufs[1:]
				continue
			}
			var k int
			k, e = s.write(bufs[0])
			total += k
			bufs[0] = bufs[0][k:]
			if e != 0 {
				break
			}
		}
		nonblock := s.nonblock
		s.mu.Unlock()
		done := len(bufs) == 0 || (e == abi.EAGAIN && nonblock) || (e != 0 && e != abi.EAGAIN)
		if done {
			return counted(m, nOut, total, uint32(e))
		}
		if e := np.block(ctx, m, ch, time.Time{}); e != 0 {
			return counted(m, nOut, total, e)
		}
	}
}

// Event types and offsets of poll_oneoff (besides wasi.go's).
const (
	eventTypeFdRead  = 1
	eventTypeFdWrite = 2
	subFD            = 16
	eventNbytes      = 16
	eventFlags       = 24
	eventHangup      = 1
)

// poll serves a poll_oneoff that waits on one of np's sockets, and
// reports whether it did (false: none of its subscriptions is a socket;
// wazero serves it). Clock subscriptions are relative here (wasi.go's
// wrapper made them so). Descriptors other than sockets are asked of
// wazero without waiting, and asked again every 10 ms while nothing is
// ready.
func (np *netProc) poll(ctx context.Context, m api.Module, stack []uint64, wazeroPoll api.GoModuleFunction) bool {
	if np == nil || np.count.Load() == 0 {
		return false
	}
	in, out, n, nOut := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	mem := m.Memory()
	raw, ok := mem.Read(in, n*subSize)
	if !ok {
		return false
	}
	type sub struct {
		userdata uint64
		tag      byte
		sock     *sock
		raw      []byte
	}
	var subs, others []sub
	var clocks []sub
	var deadline time.Time
	now := time.Now()
	hasSock := false
	for i := uint32(0); i < n; i++ {
		r := raw[i*subSize : (i+1)*subSize]
		sb := sub{userdata: binary.LittleEndian.Uint64(r), tag: r[subTag], raw: r}
		switch sb.tag {
		case eventTypeClock:
			t := now.Add(time.Duration(min(binary.LittleEndian.Uint64(r[subTimeout:]), uint64(1<<62))))
			if deadline.IsZero() || t.Before(deadline) {
				deadline = t
			}
			clocks = append(clocks, sb)
		case eventTypeFdRead, eventTypeFdWrite:
			fd := int32(binary.LittleEndian.Uint32(r[subFD:]))
			if sb.sock = np.get(fd); sb.sock != nil {
				hasSock = true
				subs = append(subs, sb)
			} else {
				others = append(others, sb)
			}
		default:
			return false
		}
	}
	if !hasSock {
		return false
	}
	if len(others)+1 > int(n) {
		return false
	}
	saved := append([]byte(nil), raw...)
	var events [][eventSize]byte
	for {
		ch := np.wake.wait()
		events = events[:0]
		for _, sb := range subs {
			s := sb.sock
			s.mu.Lock()
			var ready bool
			var nbytes int
			var flags uint16
			if sb.tag == eventTypeFdRead {
				ready, nbytes = s.readable(), len(s.rbuf)
				if s.reof || s.rshut || s.state == sockClosed {
					flags = eventHangup
				}
			} else {
				ready, nbytes = s.writable(), sockBufSize-len(s.wbuf)
			}
			s.mu.Unlock()
			if ready {
				var ev [eventSize]byte
				binary.LittleEndian.PutUint64(ev[0:], sb.userdata)
				ev[eventType] = sb.tag
				binary.LittleEndian.PutUint64(ev[eventNbytes:], uint64(nbytes))
				binary.LittleEndian.PutUint16(ev[eventFlags:], flags)
				events = append(events, ev)
			}
		}
		if len(others) > 0 {
			// Ask wazero about the other descriptors, without waiting: in
			// the guest's own array (restored after), with a clock of 0.
			const marker = ^uint64(0) - 0x77626f78
			for i, sb := range others {
				mem.Write(in+uint32(i)*subSize, sb.raw)
			}
			var clk [subSize]byte
			binary.LittleEndian.PutUint64(clk[0:], marker)
			clk[subTag] = eventTypeClock
			binary.LittleEndian.PutUint32(clk[subClockID:], 1)
			mem.Write(in+uint32(len(others))*subSize, clk[:])
			call := []uint64{uint64(in), uint64(out), uint64(len(others) + 1), uint64(nOut)}
			wazeroPoll.Call(ctx, m, call)
			mem.Write(in, saved)
			if call[0] == 0 {
				k, _ := mem.ReadUint32Le(nOut)
				for i := uint32(0); i < min(k, uint32(len(others)+1)); i++ {
					b, _ := mem.Read(out+i*eventSize, eventSize)
					if len(b) == eventSize && binary.LittleEndian.Uint64(b) != marker {
						events = append(events, [eventSize]byte(b))
					}
				}
			}
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			for _, c := range clocks {
				var ev [eventSize]byte
				binary.LittleEndian.PutUint64(ev[0:], c.userdata)
				ev[eventType] = eventTypeClock
				events = append(events, ev)
			}
		}
		if len(events) > 0 {
			for i, ev := range events {
				if !mem.Write(out+uint32(i)*eventSize, ev[:]) {
					stack[0] = uint64(errnoFAULT)
					return true
				}
			}
			if !mem.WriteUint32Le(nOut, uint32(len(events))) {
				stack[0] = uint64(errnoFAULT)
				return true
			}
			stack[0] = 0
			return true
		}
		wait := deadline
		if len(others) > 0 {
			if soon := time.Now().Add(10 * time.Millisecond); wait.IsZero() || soon.Before(wait) {
				wait = soon
			}
		}
		if e := np.block(ctx, m, ch, wait); e != 0 {
			stack[0] = uint64(e)
			return true
		}
	}
}
