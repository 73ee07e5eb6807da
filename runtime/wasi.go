package runtime

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	wazerosys "github.com/tetratelabs/wazero/sys"
)

// instantiateWASI instantiates wazero's WASI preview 1 host module with one
// change: poll_oneoff accepts absolute clock subscriptions.
//
// wazero answers ENOTSUP to a clock subscription with the abstime flag.
// wasi-libc's clock_nanosleep(TIMER_ABSTIME) makes exactly that, and
// CPython's time.sleep is built on it, so every time.sleep in a box failed
// with "OSError: [Errno 58] Not supported". The wrapper turns each absolute
// deadline into a relative timeout on the same clock the guest reads
// (wazero's own clock_time_get), calls wazero's poll_oneoff, and puts the
// guest's subscriptions back as they were.
func instantiateWASI(ctx context.Context, r wazero.Runtime) error {
	orig := r.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(orig)
	cm, err := orig.Compile(ctx)
	if err != nil {
		return err
	}
	defer cm.Close(ctx)
	fns := cm.ExportedFunctions()
	poll, ok1 := fns["poll_oneoff"].GoFunction().(api.GoModuleFunction)
	now, ok2 := fns["clock_time_get"].GoFunction().(api.GoModuleFunction)
	if !ok1 || !ok2 {
		return fmt.Errorf("wazero's poll_oneoff or clock_time_get is not a Go function")
	}

	b := r.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	// Every function but proc_exit first checks that the process may go
	// on (checkAlive): a run a limit ended stops at its next system call.
	for name, def := range fns {
		if name == "proc_exit" {
			continue
		}
		fn, ok := def.GoFunction().(api.GoModuleFunction)
		if !ok {
			return fmt.Errorf("wazero's %s is not a Go function", name)
		}
		switch name {
		case "poll_oneoff":
			fn = pollAbsolute(poll, now)
		case "path_open":
			wasiPathOpen = fn
		case "fd_close":
			wasiFdClose = fn
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(alive(name, fn), def.ParamTypes(), def.ResultTypes()).
			WithParameterNames(def.ParamNames()...).
			WithResultNames(def.ResultNames()...).
			Export(name)
	}
	_, err = b.Instantiate(ctx)
	return err
}

// alive wraps wazero's WASI function name: the process must be alive,
// and a call on one of its sockets is the runner's (netProc.serve).
func alive(name string, fn api.GoModuleFunction) api.GoModuleFunc {
	if _, ok := fdParams[name]; !ok {
		return func(ctx context.Context, mod api.Module, stack []uint64) {
			checkAlive(ctx, mod)
			fn.Call(ctx, mod, stack)
		}
	}
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		checkAlive(ctx, mod)
		if p := procFrom(ctx); p != nil {
			if np := p.net.Load(); np != nil && np.count.Load() > 0 && np.serve(ctx, mod, name, stack, fn) {
				return
			}
		}
		fn.Call(ctx, mod, stack)
	}
}

// Offsets in a WASI subscription (48 bytes): userdata u64, tag u8 at 8,
// then for a clock: id u32 at 16, timeout u64 at 24, precision u64 at 32,
// flags u16 at 40.
const (
	subSize        = 48
	subTag         = 8
	subClockID     = 16
	subTimeout     = 24
	subFlags       = 40
	eventTypeClock = 0
	flagAbstime    = 1
)

func pollAbsolute(poll, clockTimeGet api.GoModuleFunction) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		in, out, n := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
		mem := mod.Memory()
		// Every count a guest gives is bounded before the host iterates
		// over it: 2^32-1 subscriptions would keep the host busy for
		// seconds before wazero refuses them.
		if n > maxPollSubscriptions {
			stack[0] = uint64(errnoINVAL)
			return
		}
		if mem == nil || !inMemory(mem, in, n*subSize) || !inMemory(mem, out, n*eventSize) {
			stack[0] = uint64(errnoFAULT)
			return
		}
		type saved struct {
			at      uint32
			timeout uint64
			flags   uint16
		}
		var restore []saved
		for i := uint32(0); i < n && mem != nil; i++ {
			sub := in + i*subSize
			tag, ok := mem.ReadByte(sub + subTag)
			if !ok || tag != eventTypeClock {
				continue
			}
			flags, _ := mem.ReadUint16Le(sub + subFlags)
			if flags&flagAbstime == 0 {
				continue
			}
			id, _ := mem.ReadUint32Le(sub + subClockID)
			deadline, _ := mem.ReadUint64Le(sub + subTimeout)
			// clock_time_get(id, precision, result) writes the guest's
			// "now" over the timeout field; an error leaves the
			// subscription to wazero, which rejects it as before.
			call := []uint64{uint64(id), 1, uint64(sub + subTimeout)}
			clockTimeGet.Call(ctx, mod, call)
			if call[0] != 0 {
				mem.WriteUint64Le(sub+subTimeout, deadline)
				continue
			}
			current, _ := mem.ReadUint64Le(sub + subTimeout)
			var timeout uint64
			if deadline > current {
				timeout = deadline - current
			}
			mem.WriteUint64Le(sub+subTimeout, timeout)
			mem.WriteUint16Le(sub+subFlags, flags&^flagAbstime)
			restore = append(restore, saved{sub, deadline, flags})
		}
		var np *netProc
		if p := procFrom(ctx); p != nil {
			np = p.net.Load()
		}
		if !np.poll(ctx, mod, stack, poll) && !sleepOnly(ctx, mod, stack) {
			poll.Call(ctx, mod, stack)
		}
		for _, s := range restore {
			mem.WriteUint64Le(s.at+subTimeout, s.timeout)
			mem.WriteUint16Le(s.at+subFlags, s.flags)
		}
	}
}

// maxPollSubscriptions bounds one poll_oneoff; Linux bounds poll(2) by
// RLIMIT_NOFILE, and no guest of ours asks for more than a few.
const maxPollSubscriptions = 1 << 16

// inMemory reports whether the size bytes at off lie in mem.
func inMemory(mem api.Memory, off, size uint32) bool {
	return uint64(off)+uint64(size) <= uint64(mem.Size())
}

// Offsets in a WASI event (32 bytes): userdata u64, error u16 at 8, type
// u8 at 10.
const (
	eventSize  = 32
	eventError = 8
	eventType  = 10
)

// sleepOnly serves a poll_oneoff whose subscriptions are all relative
// clocks (a sleep) itself, so that the sleep ends as soon as the process
// must (killed, its run ended: its context is done) instead of running to
// its term as wazero's does. It reports false, touching nothing, for any
// other poll, which wazero then serves.
func sleepOnly(ctx context.Context, mod api.Module, stack []uint64) bool {
	in, out, n, neventsOut := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	mem := mod.Memory()
	if mem == nil || n == 0 || n > 64 {
		return false
	}
	first, least := uint32(0), uint64(0)
	for i := uint32(0); i < n; i++ {
		sub := in + i*subSize
		tag, ok := mem.ReadByte(sub + subTag)
		if !ok || tag != eventTypeClock {
			return false
		}
		flags, ok1 := mem.ReadUint16Le(sub + subFlags)
		timeout, ok2 := mem.ReadUint64Le(sub + subTimeout)
		if !ok1 || !ok2 || flags&flagAbstime != 0 {
			return false
		}
		if i == 0 || timeout < least {
			first, least = i, timeout
		}
	}
	userdata, ok := mem.ReadUint64Le(in + first*subSize)
	if !ok {
		return false
	}
	// Check the output can be written before sleeping.
	if _, ok := mem.Read(out, eventSize); !ok {
		return false
	}
	if _, ok := mem.Read(neventsOut, 4); !ok {
		return false
	}
	t := time.NewTimer(time.Duration(min(least, uint64(1<<62))))
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		// The process must end: at once, not after the sleep.
		mod.CloseWithExitCode(ctx, ExitKilled)
		panic(wazerosys.NewExitError(ExitKilled))
	}
	ev := make([]byte, eventSize)
	binary.LittleEndian.PutUint64(ev, userdata)
	binary.LittleEndian.PutUint16(ev[eventError:], 0)
	ev[eventType] = eventTypeClock
	mem.Write(out, ev)
	mem.WriteUint32Le(neventsOut, 1)
	stack[0] = 0
	return true
}
