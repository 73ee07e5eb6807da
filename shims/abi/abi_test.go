package abi

import (
	"errors"
	"io"
	"io/fs"
	"syscall"
	"testing"
)

func TestStat(t *testing.T) {
	s := Stat{Mode: 0o100644, UID: 1000, GID: 50, Nlink: 2}
	b := s.Encode()
	want := [StatSize]byte{0xa4, 0x81, 0, 0, 0xe8, 0x03, 0, 0, 50, 0, 0, 0, 2, 0, 0, 0}
	if b != want {
		t.Errorf("Encode = %v, want %v", b, want)
	}
	if got := DecodeStat(b); got != s {
		t.Errorf("DecodeStat = %+v, want %+v", got, s)
	}
}

func TestErrno(t *testing.T) {
	if !errors.Is(ENOENT, fs.ErrNotExist) || errors.Is(EACCES, fs.ErrNotExist) {
		t.Error("ENOENT must match fs.ErrNotExist, and only it")
	}
	if !errors.Is(ENOSYS, errors.ErrUnsupported) {
		t.Error("ENOSYS must match errors.ErrUnsupported")
	}
	if got := Errno(1000).Error(); got != "errno 1000" {
		t.Errorf("Errno(1000) = %q", got)
	}
}

func TestPipe(t *testing.T) {
	p := NewPipe(4)
	if _, e := p.TryRead(make([]byte, 8)); e != EAGAIN {
		t.Errorf("TryRead of an empty pipe: %v, want EAGAIN", e)
	}
	if n, e := p.TryWrite([]byte("abcdef")); n != 4 || e != ESUCCESS {
		t.Errorf("TryWrite = %d, %v; want 4 bytes", n, e)
	}
	if _, e := p.TryWrite([]byte("g")); e != EAGAIN {
		t.Errorf("TryWrite to a full pipe: %v, want EAGAIN", e)
	}
	b := make([]byte, 8)
	if n, err := p.Read(b); n != 4 || err != nil || string(b[:n]) != "abcd" {
		t.Errorf("Read = %d %q %v", n, b[:n], err)
	}
	p.CloseWrite()
	if n, e := p.TryRead(b); n != 0 || e != ESUCCESS {
		t.Errorf("TryRead at end of file = %d, %v; want 0, success", n, e)
	}
	if _, err := p.Read(b); err != io.EOF {
		t.Errorf("Read at end of file: %v", err)
	}
	q := NewPipe(0)
	q.CloseRead()
	if _, e := q.TryWrite([]byte("x")); e != EPIPE {
		t.Errorf("TryWrite without a reader: %v, want EPIPE", e)
	}
	if _, err := q.Write([]byte("x")); err != syscall.EPIPE {
		t.Errorf("Write without a reader: %v, want EPIPE", err)
	}
}
