package runtime

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
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
		if name == "poll_oneoff" {
			fn = pollAbsolute(poll, now)
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(alive(fn), def.ParamTypes(), def.ResultTypes()).
			WithParameterNames(def.ParamNames()...).
			WithResultNames(def.ResultNames()...).
			Export(name)
	}
	_, err = b.Instantiate(ctx)
	return err
}

func alive(fn api.GoModuleFunction) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		checkAlive(ctx, mod)
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
		in, n := uint32(stack[0]), uint32(stack[2])
		mem := mod.Memory()
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
		poll.Call(ctx, mod, stack)
		for _, s := range restore {
			mem.WriteUint64Le(s.at+subTimeout, s.timeout)
			mem.WriteUint16Le(s.at+subFlags, s.flags)
		}
	}
}
