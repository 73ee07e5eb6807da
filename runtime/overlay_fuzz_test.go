package runtime

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// FuzzOverlay drives the writable layer's WASI surface with guest-chosen
// numbers: random sequences of open, pwrite, pread, truncate, seek, write,
// rename, link, symlink, unlink, mkdir and rmdir. The host must not
// panic, and the layer must never hold more file data than it is charged
// for (the run's memory limit counts what is charged).
func FuzzOverlay(f *testing.F) {
	f.Add([]byte("\x00\x00\x01\x00\x00\x00\x00\x40\x00\x00\x00\x05hello\x02\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x00\x01\x03\xfc\xff\xff\xff\xff\xff\xff\x7f\x08xxxxxxxx\x06\x01\x02\x08\x01"))
	f.Add([]byte("\x00\x00\x04\x00\x00\x00\x00\x00\x01\x00\x00\x07\x00\x03\x09\x03\x0a\x00"))
	paths := []string{"a", "b", "d", "d/x", "l", "d/l", "e/f"}
	f.Fuzz(func(t *testing.T, ops []byte) {
		o := newTmpfs(1 << 20)
		var charged int64
		o.setCharge(func(d int64) bool { charged += d; return true })
		var files []experimentalsys.File
		defer func() {
			for _, f := range files {
				f.Close()
			}
		}()
		r := bytes.NewReader(ops)
		num := func() int64 {
			var v int64
			binary.Read(r, binary.LittleEndian, &v)
			return v
		}
		pick := func() string {
			b, _ := r.ReadByte()
			return paths[int(b)%len(paths)]
		}
		file := func() experimentalsys.File {
			b, _ := r.ReadByte()
			if len(files) == 0 {
				return nil
			}
			return files[int(b)%len(files)]
		}
		for r.Len() > 0 {
			op, _ := r.ReadByte()
			switch op % 12 {
			case 0:
				p := pick()
				b, _ := r.ReadByte()
				flag := experimentalsys.Oflag(b) & (experimentalsys.O_RDWR | experimentalsys.O_CREAT | experimentalsys.O_TRUNC | experimentalsys.O_APPEND | experimentalsys.O_EXCL)
				if fl, errno := o.OpenFile(p, flag|experimentalsys.O_RDWR, 0o644); errno == 0 {
					files = append(files, fl)
				}
			case 1:
				if fl := file(); fl != nil {
					off := num()
					n, _ := r.ReadByte()
					data := make([]byte, n)
					io.ReadFull(r, data)
					fl.Pwrite(data, off)
				}
			case 2:
				if fl := file(); fl != nil {
					off := num()
					fl.Pread(make([]byte, 4096), off)
				}
			case 3:
				if fl := file(); fl != nil {
					fl.Truncate(num())
				}
			case 4:
				if fl := file(); fl != nil {
					b, _ := r.ReadByte()
					fl.Seek(num(), int(b%4))
				}
			case 5:
				if fl := file(); fl != nil {
					fl.Write([]byte("written"))
				}
			case 6:
				o.Rename(pick(), pick())
			case 7:
				o.Link(pick(), pick())
			case 8:
				o.Symlink(pick(), pick())
			case 9:
				o.Unlink(pick())
			case 10:
				o.Mkdir(pick(), 0o755)
			case 11:
				o.Rmdir(pick())
			}
			held := heldData(o.root)
			o.mu.RLock()
			used := o.used
			o.mu.RUnlock()
			if used != charged {
				t.Fatalf("the layer counts %d bytes, the run was charged %d", used, charged)
			}
			if used < held {
				t.Fatalf("the layer holds %d bytes of file data but is charged %d", held, used)
			}
			if used > 1<<20 {
				t.Fatalf("a 1 MiB layer holds %d bytes", used)
			}
		}
	})
}

// heldData sums the data of the regular files reachable from n, each
// node once (hard links share one).
func heldData(n *node) int64 {
	seen := map[*node]bool{}
	var sum int64
	var walk func(*node)
	walk = func(n *node) {
		if seen[n] {
			return
		}
		seen[n] = true
		sum += n.data.cost()
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(n)
	return sum
}
