package runtime

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

func TestContentHoles(t *testing.T) {
	var c content
	grow, err := c.growth(3, 1<<30)
	if err != nil || grow != 1<<30%pageSize+3 {
		t.Fatalf("growth of a far write: %d, %v", grow, err)
	}
	c.writeAt([]byte("far"), 1<<30)
	if c.size != 1<<30+3 || c.cost() != 3 {
		t.Fatalf("size %d cost %d: a hole must cost nothing", c.size, c.cost())
	}
	b := make([]byte, 8)
	if n := c.readAt(b, 1<<30-5); n != 8 || !bytes.Equal(b, []byte("\x00\x00\x00\x00\x00far")) {
		t.Fatalf("read across the hole: %d %q", n, b)
	}
	if d, _ := c.truncate(1 << 40); d != 0 || c.cost() != 3 {
		t.Fatalf("growing by truncate took memory: %d", c.cost())
	}
	if d, _ := c.truncate(1<<30 + 1); d != -2 || c.cost() != 1 {
		t.Fatalf("shrinking into a page: delta %d cost %d", d, c.cost())
	}
	// The bytes cut off must not come back when the file grows again.
	c.truncate(1<<30 + 3)
	if c.readAt(b[:3], 1<<30); !bytes.Equal(b[:3], []byte("f\x00\x00")) {
		t.Fatalf("truncated bytes came back: %q", b[:3])
	}
	if _, err := c.growth(1, maxFileSize); err == nil {
		t.Fatal("a write past maxFileSize was accepted")
	}
	if _, err := c.growth(8, 1<<63-4); err == nil {
		t.Fatal("an overflowing write was accepted")
	}
	if d := c.reset(); d != -1 || c.size != 0 {
		t.Fatalf("reset: %d", d)
	}
}

// FuzzContent runs guest-like sequences of writes and truncates against
// a plain byte slice and checks content agrees with it, and that its cost
// is what its pages hold.
func FuzzContent(f *testing.F) {
	f.Add([]byte("\x00\x05\x00\x00\x00hello\x01\x03\x00\x00\x00"))
	f.Add([]byte("\x00\xff\xff\x01\x00abc\x01\x10\x00\x00\x00\x00\x01\x00\x00xyz"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		var c content
		var model []byte
		var cost int64
		r := bytes.NewReader(ops)
		for r.Len() > 0 {
			op, _ := r.ReadByte()
			var off32 uint32
			if binary.Read(r, binary.LittleEndian, &off32) != nil {
				break
			}
			off := int64(off32 % (4 * pageSize))
			switch op % 2 {
			case 0:
				n, _ := r.ReadByte()
				data := make([]byte, int(n)%200+1)
				io.ReadFull(r, data)
				grow, err := c.growth(len(data), off)
				if err != nil {
					t.Fatal(err)
				}
				cost += grow
				c.writeAt(data, off)
				if end := off + int64(len(data)); end > int64(len(model)) {
					model = append(model, make([]byte, end-int64(len(model)))...)
				}
				copy(model[off:], data)
			case 1:
				d, err := c.truncate(off)
				if err != nil {
					t.Fatal(err)
				}
				cost += d
				if off <= int64(len(model)) {
					model = model[:off]
				} else {
					model = append(model, make([]byte, off-int64(len(model)))...)
				}
			}
			if c.size != int64(len(model)) {
				t.Fatalf("size %d, want %d", c.size, len(model))
			}
			if cost != c.cost() {
				t.Fatalf("charged %d, holds %d", cost, c.cost())
			}
		}
		if got := c.bytes(); !bytes.Equal(got, model) {
			t.Fatalf("content differs from the model")
		}
		got, _ := io.ReadAll(c.reader())
		if !bytes.Equal(got, model) {
			t.Fatalf("reader differs from the model")
		}
	})
}
