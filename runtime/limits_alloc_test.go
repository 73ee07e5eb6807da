package runtime

import (
	"testing"

	"github.com/tetratelabs/wazero/experimental"
)

// noSpace is a memory whose address space cannot be reserved.
type noSpace struct{}

func (noSpace) Reallocate(uint64) []byte { return nil }
func (noSpace) Free()                    {}

// A memory whose reservation fails (ulimit -v) falls back to a Go slice
// rather than failing the instantiation (wazero panicked on it), and is
// still counted against the run.
func TestMemoryFallback(t *testing.T) {
	rs := &runState{limits: Limits{Memory: 1 << 20}}
	a := allocator{rs: rs, inner: experimental.MemoryAllocatorFunc(func(c, m uint64) experimental.LinearMemory { return noSpace{} })}
	m := a.Allocate(65536, 1<<20)
	if b := m.Reallocate(65536); len(b) != 65536 {
		t.Fatalf("first allocation: %d bytes", len(b))
	}
	if got := rs.mem.Load(); got != 65536 {
		t.Fatalf("counted %d bytes, want 65536", got)
	}
	if b := m.Reallocate(2 << 20); b != nil {
		t.Fatal("grew past the run's limit")
	}
	m.Free()
	if got := rs.mem.Load(); got != 0 {
		t.Fatalf("after Free: %d bytes counted", got)
	}
}
