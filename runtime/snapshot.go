package runtime

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmbox/wasmbox/fsimage"
	"github.com/wasmbox/wasmbox/internal/envlist"
	"github.com/wasmbox/wasmbox/internal/wasmsnap"
	"github.com/wasmbox/wasmbox/internal/wasmsnap/cowmem"
)

// Snapshots (issue 11; RATIONALE.md, "Snapshots"): a program of a box that
// exports snapshotInit and snapshotResume (the python base's interpreter)
// is initialized once per box, and its runs start from the captured state
// instead of from _start. What a snapshot holds:
//   - the linear memory and mutable globals after snapshotInit, for one
//     argv[0] (CPython derives sys.executable from it), as the box's config
//     runs it (its environment, working directory and user);
//   - what initialization asked the box's file system (every name looked up,
//     every directory listed): a run whose writable layer or mounts change
//     any of it starts afresh.
//
// Every run instantiates one compiled module per program (wasmsnap's
// Restorable: no data segments, no start, memory and mutable globals
// exported) on a private copy-on-write mapping of the memory (cowmem),
// grows the memory to the snapshot's size, sets the globals and calls
// snapshotResume, which runs the command or returns when the run needs a
// fresh start (another environment where it shapes initialization, a
// terminal, an option of the interpreter's own). Snapshots are taken on the
// same module, from the module's initial memory, so they cost no compiling
// of their own.
//
// On disk (the compilation cache directory's "snapshots"), per box and
// program: an index (JSON behind its own SHA-256) and the memories
// (gzip, named by the SHA-256 of what they hold). A memory is checked
// against its digest while it is copied into a sealed file of its own,
// before any run maps it; an index or memory that fails its check is
// never used, and SnapshotBox takes the snapshots again.

const (
	snapshotInit   = "wasmbox_snapshot_init"
	snapshotResume = "wasmbox_resume"
	// snapshotFormat versions the files on disk (and what the key covers).
	snapshotFormat = "wasmbox-snapshot-1"
	// SnapshotImportsVar, in a box's environment (ENV), lists the modules
	// a snapshot of its interpreter imports, separated by commas or
	// spaces; "" imports none. Default: DefaultSnapshotImports.
	SnapshotImportsVar = "WASMBOX_SNAPSHOT_IMPORTS"
	// DefaultSnapshotImports are what agents' snippets import most, of
	// the standard library the python base has.
	DefaultSnapshotImports = "json,re,math,datetime,decimal,csv,random,tempfile"
	// SnapshotTimeLimit bounds the initialization of one snapshot (on
	// an interruptible Runtime; see WithInterruptible).
	SnapshotTimeLimit = 2 * time.Minute
	// maxSnapshotNames bounds the argv[0] spellings snapshotted per program.
	maxSnapshotNames = 8
	// maxSnapshotIndex bounds an index file read from disk.
	maxSnapshotIndex = 16 << 20
)

// snapshotDir is where snapshots are kept, in a compilation cache
// directory.
const snapshotDir = "snapshots"

// snapRecord is one snapshot: a program initialized for one argv[0].
type snapRecord struct {
	Argv0      string            `json:"argv0"`
	UID        uint32            `json:"uid"`
	GID        uint32            `json:"gid"`
	Memory     string            `json:"memory"` // SHA-256 of the memory, hex
	MemorySize int64             `json:"memory_size"`
	Globals    map[uint32]uint64 `json:"globals"`
	// Looked and Listed are the box paths (relative, clean) that
	// initialization looked up and listed.
	Looked []string `json:"looked"`
	Listed []string `json:"listed"`
}

// snapIndex is the snapshots of one program of one box.
type snapIndex struct {
	Format  string `json:"format"`
	Box     string `json:"box"`
	Module  string `json:"module"` // SHA-256 of the program's module, hex
	Imports string `json:"imports"`
	// Restorable is the SHA-256 of the module runs start from, hex.
	Restorable string `json:"restorable"`
	// Error says why no snapshot could be taken: runs start afresh.
	Error     string       `json:"error,omitempty"`
	Snapshots []snapRecord `json:"snapshots,omitempty"`
}

// snapshot is a snapRecord ready for runs.
type snapshot struct {
	rec    snapRecord
	looked map[string]bool
	listed map[string]bool

	once  sync.Once
	image *cowmem.Image // loaded at first use
	err   error
}

// programSnaps is what a Runtime holds of one program of one box.
type programSnaps struct {
	restKey [32]byte // digest of the Restorable module
	byArgv0 map[string]*snapshot
}

type snapKey struct {
	box    string
	module [32]byte
}

// snapDirOf is the snapshot directory of the cache directory dir.
func snapDirOf(dir string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, snapshotDir)
}

// indexPath is the index file of a box's program in dir.
func indexPath(dir string, k snapKey, imports string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%x\x00%s", snapshotFormat, k.box, k.module, imports)
	return filepath.Join(dir, hex.EncodeToString(h.Sum(nil))+".json")
}

func memoryPath(dir, digest string) string {
	return filepath.Join(dir, "memory-"+digest+".gz")
}

// fsTrace records what initialization asks of the box's file system.
type fsTrace struct {
	mu     sync.Mutex
	looked map[string]bool
	listed map[string]bool
}

func newFSTrace() *fsTrace {
	return &fsTrace{looked: map[string]bool{}, listed: map[string]bool{}}
}

func (t *fsTrace) look(p string) {
	t.mu.Lock()
	t.looked[p] = true
	t.mu.Unlock()
}

func (t *fsTrace) list(p string) {
	t.mu.Lock()
	t.listed[p] = true
	t.mu.Unlock()
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// touches reports whether a change at the box path p (relative, clean)
// shows to what s's initialization asked.
func (s *snapshot) touches(p string) bool {
	return s.looked[p] || s.listed[p] || s.listed[path.Dir(p)]
}

// sees reports whether the namespace ns shows s's initialization the box
// as it was: no mount, single file or change of the writable layer where
// initialization looked. Directories copied up unchanged (to hold a
// changed file) are looked through.
func (s *snapshot) sees(ns *namespace) bool {
	for _, m := range ns.mounts {
		if s.touches(rel(m.target)) {
			return false
		}
	}
	for f := range ns.files {
		if s.touches(f) {
			return false
		}
	}
	o := ns.root
	o.mu.RLock()
	defer o.mu.RUnlock()
	return s.unchangedBelow(o, ".", o.root)
}

func (s *snapshot) unchangedBelow(o *overlay, dir string, n *node) bool {
	for name, c := range n.children {
		p := joinRel(dir, name)
		if c.typ == fsimage.TypeDir && !c.opaque && o.lower != nil {
			if e, ok := o.lower.Lookup(p); ok && e.Type == fsimage.TypeDir {
				if !s.unchangedBelow(o, p, c) {
					return false
				}
				continue
			}
		}
		if s.looked[p] || s.listed[dir] {
			return false
		}
	}
	return true
}

// loadImage maps s's memory, checked against its digest, once.
func (s *snapshot) loadImage(dir string) (*cowmem.Image, error) {
	s.once.Do(func() {
		s.image, s.err = loadMemory(dir, s.rec.Memory, s.rec.MemorySize)
	})
	return s.image, s.err
}

// digestOf decodes a SHA-256 in hex.
func digestOf(s string) ([32]byte, bool) {
	var d [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, false
	}
	copy(d[:], b)
	return d, true
}

func loadMemory(dir, digest string, size int64) (*cowmem.Image, error) {
	if dir == "" {
		return nil, errors.New("snapshot memory: no snapshot directory to load it from")
	}
	want, ok := digestOf(digest)
	if !ok {
		return nil, fmt.Errorf("snapshot memory digest %q: not a SHA-256", digest)
	}
	f, err := os.Open(memoryPath(dir, digest))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("snapshot memory %s: %w", f.Name(), err)
	}
	im, err := cowmem.Load(zr, size, want)
	if err != nil {
		return nil, fmt.Errorf("snapshot memory %s: %w", f.Name(), err)
	}
	return im, nil
}

// readIndex reads and checks an index file: a line "sha256:HEX" with the
// digest of the JSON that follows.
func readIndex(p string, k snapKey, imports string) (*snapIndex, error) {
	idx, err := readIndexFile(p)
	if err != nil {
		return nil, err
	}
	if idx.Format != snapshotFormat || idx.Box != k.box || idx.Module != hex.EncodeToString(k.module[:]) || idx.Imports != imports {
		return nil, fmt.Errorf("snapshot index %s: for another box, program or import list", p)
	}
	return idx, nil
}

// readIndexFile reads an index file and checks its digest.
func readIndexFile(p string) (*snapIndex, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSnapshotIndex+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSnapshotIndex {
		return nil, fmt.Errorf("snapshot index %s: over %d bytes", p, maxSnapshotIndex)
	}
	head, body, ok := bytes.Cut(data, []byte("\n"))
	sum := sha256.Sum256(body)
	if !ok || string(head) != "sha256:"+hex.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("snapshot index %s: its digest does not match (truncated or changed)", p)
	}
	var idx snapIndex
	if err := json.Unmarshal(body, &idx); err != nil {
		return nil, fmt.Errorf("snapshot index %s: %w", p, err)
	}
	return &idx, nil
}

// writeIndex writes idx to p, atomically.
func writeIndex(p string, idx *snapIndex) error {
	body, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	data := append([]byte("sha256:"+hex.EncodeToString(sum[:])+"\n"), body...)
	return writeAtomic(p, data)
}

func writeAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// writeMemory stores mem, gzipped, under its digest (replacing a file of
// that name, which may be a damaged one); it returns the digest.
func writeMemory(dir string, mem []byte) (string, error) {
	sum := sha256.Sum256(mem)
	digest := hex.EncodeToString(sum[:])
	p := memoryPath(dir, digest)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(mem)
	if err := zw.Close(); err != nil {
		return "", err
	}
	return digest, writeAtomic(p, buf.Bytes())
}

func newProgramSnaps(idx *snapIndex, restKey [32]byte) *programSnaps {
	ps := &programSnaps{restKey: restKey, byArgv0: map[string]*snapshot{}}
	for _, rec := range idx.Snapshots {
		s := &snapshot{rec: rec, looked: map[string]bool{}, listed: map[string]bool{}}
		for _, p := range rec.Looked {
			s.looked[p] = true
		}
		for _, p := range rec.Listed {
			s.listed[p] = true
		}
		ps.byArgv0[rec.Argv0] = s
	}
	return ps
}

// snapProgram is a program of a box that can be snapshotted.
type snapProgram struct {
	key   [32]byte
	code  []byte
	paths map[string]bool // absolute box paths of its files
}

// snapshotPrograms lists the box's modules that export snapshotInit and
// snapshotResume, by digest, and the digest of every module, by path.
func (b *Box) snapshotPrograms() (map[[32]byte]*snapProgram, map[string][32]byte, error) {
	paths, err := b.wasmModules()
	if err != nil {
		return nil, nil, err
	}
	out := map[[32]byte]*snapProgram{}
	keys := map[string][32]byte{}
	for _, p := range paths {
		code, key, ok, err := b.snapshotModule(p)
		if err != nil {
			return nil, nil, err
		}
		keys[p] = key
		if !ok {
			continue
		}
		sp := out[key]
		if sp == nil {
			sp = &snapProgram{key: key, code: code, paths: map[string]bool{}}
			out[key] = sp
		}
		sp.paths[p] = true
	}
	return out, keys, nil
}

// snapshotModule returns the digest of the module at p and, when it
// exports what a snapshot needs, its bytes.
func (b *Box) snapshotModule(p string) (code []byte, key [32]byte, ok bool, err error) {
	sr, err := b.tree.Content(strings.TrimPrefix(p, "/"))
	if err != nil {
		return nil, key, false, err
	}
	if sr.Size() > maxModuleSize { // no runner reads it whole: only its digest
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(sr, 0, sr.Size())); err != nil {
			return nil, key, false, err
		}
		h.Sum(key[:0])
		return nil, key, false, nil
	}
	code = make([]byte, sr.Size())
	if _, err := sr.ReadAt(code, 0); err != nil && err != io.EOF {
		return nil, key, false, err
	}
	key = sha256.Sum256(code)
	m, err := wasmsnap.Parse(code)
	if err != nil || !m.ExportsFunc(snapshotInit) || !m.ExportsFunc(snapshotResume) {
		return nil, key, false, nil
	}
	return code, key, true, nil
}

// snapshotImports is the import list of the box's snapshots.
func (b *Box) snapshotImports() string {
	if v, ok := envlist.Lookup(b.config.Env, SnapshotImportsVar); ok {
		return v
	}
	return DefaultSnapshotImports
}

// argv0Names are the spellings of argv[0] that run sp in the box: each
// name in the PATH of the box's config that leads to one of its files,
// alone and with its directory, and its files' own paths.
func (b *Box) argv0Names(o *overlay, sp *snapProgram) []string {
	pathVar, ok := envlist.Lookup(b.config.Env, "PATH")
	if !ok {
		pathVar = DefaultPath
	}
	seen := map[string]bool{}
	var names []string
	add := func(n string) {
		if !seen[n] && len(names) < maxSnapshotNames {
			seen[n] = true
			names = append(names, n)
		}
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, d := range strings.Split(pathVar, ":") {
		if !path.IsAbs(d) {
			continue
		}
		dr, errno := o.existing(d, true)
		if errno != 0 || !dr.isDir() {
			continue
		}
		entries, errno := o.names(dr)
		if errno != 0 {
			continue
		}
		for _, name := range entries {
			full := path.Join(d, name)
			r, errno := o.existing(full, true)
			if errno == 0 && sp.paths["/"+r.path()] {
				add(name)
				add(full)
			}
		}
	}
	files := sortedKeys(sp.paths)
	for _, p := range files {
		add(p)
	}
	return names
}

// SnapshotBox readies the snapshots of the box's programs that can start
// from one (modules exporting wasmbox_snapshot_init and wasmbox_resume,
// as the python base's interpreter does), for every later run of the box
// by this Runtime: loaded from the compilation cache directory when it
// holds them (checked against their digests), else taken and stored
// there. It compiles the module runs start from. A box without such a
// program, or whose snapshot fails (an import that fails, say), still
// runs, from _start: the error says why.
func (r *Runtime) SnapshotBox(ctx context.Context, box *Box) error {
	progs, _, err := box.snapshotPrograms()
	if err != nil || len(progs) == 0 {
		return err
	}
	imports := box.snapshotImports()
	var errs []error
	for key, sp := range progs {
		if err := r.snapshotProgram(ctx, box, sp, snapKey{box: box.digest, module: key}, imports); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Runtime) snapshotProgram(ctx context.Context, box *Box, sp *snapProgram, k snapKey, imports string) error {
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	rest, err := wasmsnap.Restorable(sp.code)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", firstPath(sp), err)
	}
	restKey := sha256.Sum256(rest)
	restProg := &program{path: firstPath(sp), key: restKey, code: rest}
	dir := r.snapDir
	if dir != "" {
		if idx, err := readIndex(indexPath(dir, k, imports), k, imports); err == nil && idx.Restorable == hex.EncodeToString(restKey[:]) {
			if idx.Error != "" {
				// Taken before and failed: runs start afresh, and
				// nothing needs the module they would start from.
				r.setSnaps(k, nil)
				return errors.New(idx.Error)
			}
			if _, err := r.compile(ctx, restProg); err != nil {
				return fmt.Errorf("snapshot of %s: %w", restProg.path, err)
			}
			ps := newProgramSnaps(idx, restKey)
			ok := true
			for _, s := range ps.byArgv0 {
				if _, err := s.loadImage(dir); err != nil {
					ok = false // taken again below
					break
				}
			}
			if ok {
				r.setSnaps(k, ps)
				return nil
			}
			for _, s := range ps.byArgv0 {
				if s.image != nil {
					s.image.Close()
				}
			}
		}
	}
	idx := &snapIndex{Format: snapshotFormat, Box: k.box, Module: hex.EncodeToString(k.module[:]), Imports: imports, Restorable: hex.EncodeToString(restKey[:])}
	images := map[string]*cowmem.Image{}
	err = r.takeSnapshots(ctx, box, sp, restProg, imports, idx, images)
	if err != nil {
		for _, im := range images {
			im.Close()
		}
		images = nil
		if ctx.Err() != nil {
			return err
		}
		idx.Error = err.Error()
		idx.Snapshots = nil
	}
	if dir != "" {
		if werr := writeIndex(indexPath(dir, k, imports), idx); werr != nil && err == nil {
			err = fmt.Errorf("storing the snapshot of %s: %w", firstPath(sp), werr)
		}
	}
	ps := newProgramSnaps(idx, restKey)
	for a, s := range ps.byArgv0 {
		s.once.Do(func() { s.image = images[a] })
	}
	r.setSnaps(k, ps)
	return err
}

func firstPath(sp *snapProgram) string {
	return sortedKeys(sp.paths)[0]
}

func (r *Runtime) setSnaps(k snapKey, ps *programSnaps) {
	r.mu.Lock()
	r.setSnapsLocked(k, ps)
	r.mu.Unlock()
}

// setSnapsLocked records ps as k's snapshots; the caller holds r.mu.
func (r *Runtime) setSnapsLocked(k snapKey, ps *programSnaps) {
	r.snaps[k] = ps
	if ps != nil && len(ps.byArgv0) > 0 {
		r.snapModules[k.module] = true
	}
}

// takeSnapshots takes a snapshot of sp for each argv[0] that runs it,
// storing the memories in r's snapshot directory.
func (r *Runtime) takeSnapshots(ctx context.Context, box *Box, sp *snapProgram, restProg *program, imports string, idx *snapIndex, images map[string]*cowmem.Image) error {
	initMem, err := wasmsnap.InitialMemory(sp.code)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", restProg.path, err)
	}
	im, err := cowmem.Load(bytes.NewReader(initMem), int64(len(initMem)), sha256.Sum256(initMem))
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", restProg.path, err)
	}
	defer im.Close()
	cm, err := r.compile(ctx, restProg)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", restProg.path, err)
	}
	m, err := wasmsnap.Parse(restProg.code)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", restProg.path, err)
	}
	take := snapTake{module: sp.key, rest: cm, initial: im, mutable: m.MutableGlobals()}
	for _, argv0 := range box.argv0Names(box.Overlay().fs, sp) {
		rec, mem, err := r.takeSnapshot(ctx, box, take, argv0, imports)
		if err != nil {
			return err
		}
		if rec == nil {
			continue // argv0 leads elsewhere with the box's PATH
		}
		if r.snapDir != "" {
			if rec.Memory, err = writeMemory(r.snapDir, mem); err != nil {
				return fmt.Errorf("storing the snapshot of %s: %w", argv0, err)
			}
		} else {
			sum := sha256.Sum256(mem)
			rec.Memory = hex.EncodeToString(sum[:])
		}
		if images[argv0], err = cowmem.Load(bytes.NewReader(mem), int64(len(mem)), sha256.Sum256(mem)); err != nil {
			return fmt.Errorf("snapshot of %s: %w", argv0, err)
		}
		idx.Snapshots = append(idx.Snapshots, *rec)
	}
	return nil
}

// snapTake is what a run taking a snapshot needs and gives.
type snapTake struct {
	module  [32]byte // the program argv[0] must lead to
	rest    wazero.CompiledModule
	initial *cowmem.Image
	mutable []uint32 // the mutable globals' indices
	// Set by the run:
	mem     []byte
	globals map[uint32]uint64
	uid     uint32
	gid     uint32
	skipped bool // argv[0] led to another program
}

// takeSnapshot runs the program's snapshotInit as the box's config runs
// argv0, on a fresh writable layer that records what it is asked; take
// holds what every snapshot of the program shares.
func (r *Runtime) takeSnapshot(ctx context.Context, box *Box, take snapTake, argv0, imports string) (*snapRecord, []byte, error) {
	o := box.Overlay()
	trace := newFSTrace()
	o.fs.trace = trace
	var out bytes.Buffer
	cmd := box.apply(Cmd{Args: []string{argv0}, Env: []string{SnapshotImportsVar + "=" + imports}})
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.take = &take
	cmd.Limits = Limits{Processes: 1, Output: 1 << 16}
	tctx, cancel := context.WithTimeout(ctx, SnapshotTimeLimit)
	defer cancel()
	err := r.Run(tctx, o, cmd)
	if take.skipped {
		return nil, nil, nil
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = "..." + msg[len(msg)-2000:]
		}
		if msg != "" {
			return nil, nil, fmt.Errorf("snapshot of %s: %w: %s", argv0, err, msg)
		}
		return nil, nil, fmt.Errorf("snapshot of %s: %w", argv0, err)
	}
	if o.fs.root != nil && len(o.fs.root.children) != 0 {
		// What initialization wrote would be missing from the runs
		// (their writable layers are new): not a state to start from.
		return nil, nil, fmt.Errorf("snapshot of %s: initialization wrote to the box's file system", argv0)
	}
	rec := &snapRecord{Argv0: argv0, UID: take.uid, GID: take.gid, MemorySize: int64(len(take.mem)), Globals: take.globals,
		Looked: sortedKeys(trace.looked), Listed: sortedKeys(trace.listed)}
	return rec, take.mem, nil
}

// runTake runs a snapshot's initialization as process p and captures the
// state it leaves.
func (p *process) runTake(ctx context.Context, prog *program) (int, error) {
	t := p.take
	if prog.key != t.module {
		t.skipped = true
		return 0, nil
	}
	ctx = experimental.WithMemoryAllocator(ctx, allocator{rs: p.state, inner: t.initial.Allocator()})
	mod, err := p.rt.rt.InstantiateModule(ctx, t.rest, p.moduleConfig(prog))
	if err != nil {
		return 0, fmt.Errorf("instantiating %s: %w", prog.path, err)
	}
	defer mod.Close(ctx)
	res, err := mod.ExportedFunction(snapshotInit).Call(ctx)
	if err != nil {
		if code, ok := exitCode(err); ok {
			return code, nil
		}
		return 0, &ExitError{Code: ExitTrapped, Cause: CauseTrap, Reason: fmt.Sprintf("%s: %s crashed: %v", prog.path, snapshotInit, err)}
	}
	if res[0] != 0 {
		return 0, fmt.Errorf("%s returned %d", snapshotInit, int32(res[0]))
	}
	mem := mod.ExportedMemory(wasmsnap.MemoryExport)
	data, ok := mem.Read(0, mem.Size())
	if !ok {
		return 0, errors.New("reading the memory")
	}
	t.mem = bytes.Clone(data)
	t.globals = map[uint32]uint64{}
	for _, i := range t.mutable {
		g := mod.ExportedGlobal(wasmsnap.GlobalExport(i))
		if g == nil {
			return 0, fmt.Errorf("global %d is not exported", i)
		}
		t.globals[i] = g.Get()
	}
	t.uid, t.gid = p.uid, p.gid
	return 0, nil
}

// snapshotFor returns the snapshot a run of prog by p can start from,
// with the program's snapshots, or nil.
func (p *process) snapshotFor(prog *program) (*snapshot, *programSnaps) {
	r, o := p.rt, p.ns.root
	if r.noSnapshots || o.box == nil || prog.boxWritten || len(prog.args) == 0 {
		return nil, nil
	}
	k := snapKey{box: o.box.digest, module: prog.key}
	r.mu.Lock()
	ps, ok := r.snaps[k]
	r.mu.Unlock()
	if !ok {
		ps = r.readSnaps(k, o)
	}
	if ps == nil {
		return nil, nil
	}
	s := ps.byArgv0[prog.args[0]]
	if s == nil || s.rec.UID != p.uid || s.rec.GID != p.gid || !s.sees(p.ns) || !streamsLikeSnapshot(p.stdin, p.stdout, p.stderr) {
		return nil, nil
	}
	return s, ps
}

// streamsLikeSnapshot reports whether the program will see its stdio as
// the snapshot saw its own (streams: no character device, nothing
// seekable), which the interpreter checks too: a terminal, /dev/null or
// a regular file would only make the resume return, the instance made
// for nothing (the CLI's stderr on a terminal, say).
func streamsLikeSnapshot(files ...any) bool {
	for _, f := range files {
		of, ok := f.(*os.File) // what wazero sees; a wrapper is a stream
		if !ok {
			continue
		}
		// wasi-libc's isatty is "a character device" (a terminal, and
		// /dev/null too); a regular file is seekable.
		if fi, err := of.Stat(); err != nil || fi.Mode().IsRegular() || fi.Mode()&os.ModeCharDevice != 0 {
			return false
		}
	}
	return true
}

// readSnaps loads the index of a box's program from disk, once per
// Runtime (nil when there is none, or it fails its check).
func (r *Runtime) readSnaps(k snapKey, o *overlay) *programSnaps {
	var ps *programSnaps
	if r.snapDir != "" && o.box != nil {
		imports := o.box.snapshotImports()
		if idx, err := readIndex(indexPath(r.snapDir, k, imports), k, imports); err == nil && idx.Error == "" {
			if restKey, ok := digestOf(idx.Restorable); ok {
				ps = newProgramSnaps(idx, restKey)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.snaps[k]; ok {
		return cur
	}
	r.setSnapsLocked(k, ps)
	return ps
}

// resume runs prog as p from snapshot s: it reports ok false, having run
// nothing of the program, when the run must start afresh instead.
func (p *process) resume(ctx context.Context, s *snapshot, ps *programSnaps, prog *program) (code int, err error, ok bool) {
	r, rs := p.rt, p.state
	im, err := s.loadImage(r.snapDir)
	if err != nil {
		return 0, nil, false // refused: never used (SnapshotBox takes it again)
	}
	cm, err := r.restorable(ctx, ps, prog)
	if err != nil {
		return 0, nil, false
	}
	if lim := rs.limits.Memory; lim > 0 {
		if used := rs.mem.Load(); s.rec.MemorySize > lim-used {
			return 0, nil, false // the fresh start reports it
		}
	}
	ctx = experimental.WithMemoryAllocator(ctx, allocator{rs: rs, inner: im.Allocator()})
	mod, err := r.rt.InstantiateModule(ctx, cm, p.moduleConfig(prog))
	if err != nil {
		return 0, nil, false
	}
	defer mod.Close(ctx)
	mem := mod.ExportedMemory(wasmsnap.MemoryExport)
	if want := uint32(s.rec.MemorySize / 65536); mem == nil || mem.Size()/65536 > want {
		return 0, nil, false
	} else if _, grown := mem.Grow(want - mem.Size()/65536); !grown {
		return 0, nil, false
	}
	for idx, v := range s.rec.Globals {
		g, isMut := mod.ExportedGlobal(wasmsnap.GlobalExport(idx)).(api.MutableGlobal)
		if !isMut {
			return 0, nil, false
		}
		g.Set(v)
	}
	fn := mod.ExportedFunction(snapshotResume)
	if fn == nil {
		return 0, nil, false
	}
	if _, err := fn.Call(ctx); err != nil {
		if code, ok := exitCode(err); ok {
			return code, nil, true
		}
		return 0, &ExitError{Code: ExitTrapped, Cause: CauseTrap, Reason: fmt.Sprintf("%s: crashed: %v", prog.path, err)}, true
	}
	return 0, nil, false // it returned: the run needs a fresh start
}

// restorable returns the compiled Restorable module of ps's program,
// compiling it from prog's code when this Runtime does not hold it.
func (r *Runtime) restorable(ctx context.Context, ps *programSnaps, prog *program) (wazero.CompiledModule, error) {
	r.mu.Lock()
	cm, ok := r.compiled[ps.restKey]
	r.mu.Unlock()
	if ok {
		return cm, nil
	}
	code, err := prog.bytes()
	if err != nil {
		return nil, err
	}
	rest, err := wasmsnap.Restorable(code)
	if err != nil {
		return nil, err
	}
	if sha256.Sum256(rest) != ps.restKey {
		return nil, errors.New("the restorable module differs from the snapshot's")
	}
	return r.compile(ctx, &program{path: prog.path, key: ps.restKey, code: rest})
}
