package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/wasmbox/wasmbox/internal/engine"
	"github.com/wasmbox/wasmbox/internal/flock"
	"github.com/wasmbox/wasmbox/runtime"
)

// runMounts is what the --mount flags of one RUN give it: volumes shown
// at their targets for the run, files placed for the run only (secrets,
// single-file binds), what the cache key must cover, and how to undo it.
type runMounts struct {
	mounts []runtime.Mount
	env    []string // secrets exposed as variables
	files  []mountFile
	key    []string
	undo   []func()
}

// mountFile is a file shown at target for one run and removed after it.
type mountFile struct {
	target string
	data   []byte
	mode   fs.FileMode
}

func (m *runMounts) close() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		m.undo[i]()
	}
}

// prepareMounts reads the --mount flags of c, with the meaning they have
// for buildkit inside the sandbox:
//   - bind: the build context or a stage (from=), at source=, read-only
//     unless rw (then the run's writes to it are thrown away);
//   - cache: a directory kept by wasmbox across builds under the store,
//     by id (default: the target);
//   - tmpfs: an empty in-memory directory for the run;
//   - secret: a secret given to the build (WithSecret), as a file
//     (default /run/secrets/ID) and/or a variable (env=); never in a layer
//     nor in the cache key;
//   - ssh: refused: a box has no SSH agent to reach.
func (s *stage) prepareMounts(c *instructions.RunCommand) (*runMounts, error) {
	rm := &runMounts{}
	targets := map[string]bool{}
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = path.Join(orRoot(s.image.Config.WorkingDir), target)
		}
		if target != "" {
			target = path.Clean(target)
		}
		var err error
		switch m.Type {
		case instructions.MountTypeBind:
			err = s.bindMount(rm, m, target)
		case instructions.MountTypeCache:
			err = s.cacheMount(rm, m, target)
		case instructions.MountTypeTmpfs:
			if target == "" {
				err = errors.New("a tmpfs mount needs target=")
				break
			}
			rm.mounts = append(rm.mounts, runtime.Mount{Target: target, Volume: runtime.NewOverlay(nil)})
			rm.key = append(rm.key, "tmpfs "+target)
		case instructions.MountTypeSecret:
			target, err = s.secretMount(rm, m, target)
		case instructions.MountTypeSSH:
			err = errors.New("SSH agent mounts cannot be used: a box cannot reach the host's SSH agent (copy what the step needs into the build context)")
		default:
			err = fmt.Errorf("unknown mount type %q", m.Type)
		}
		if err != nil {
			rm.close()
			return nil, fmt.Errorf("RUN --mount=type=%s: %w", m.Type, err)
		}
		if target != "" {
			if targets[target] {
				rm.close()
				return nil, fmt.Errorf("RUN --mount: %s is the target of two mounts", target)
			}
			targets[target] = true
		}
	}
	return rm, nil
}

// bindMount shows a directory (or file) of the context or of a stage.
func (s *stage) bindMount(rm *runMounts, m *instructions.Mount, target string) error {
	if target == "" {
		return errors.New("a bind mount needs target=")
	}
	src, where, srcKey, closeSrc, err := s.copySource("RUN --mount", m.From)
	if err != nil {
		return err
	}
	defer closeSrc()
	source := path.Clean("/" + m.Source)[1:]
	if source == "" {
		source = "."
	}
	fi, err := src.Stat(source)
	if err != nil {
		return fmt.Errorf("source %s: not found in %s", orRoot(m.Source), where)
	}
	h := sha256.New()
	if err := hashSources(s.b.ctx, h, src, []string{source}); err != nil {
		return fmt.Errorf("reading %s: %w", where, err)
	}
	rm.key = append(rm.key, fmt.Sprintf("bind %s %s %s %v %x", target, srcKey, source, m.ReadOnly, h.Sum(nil)))
	if lim := s.b.layerLimit(); lim > 0 && !fi.IsDir() && fi.Size() > lim {
		return fmt.Errorf("source %s: %w", orRoot(m.Source), s.b.layerFull())
	}
	if !fi.IsDir() {
		data, err := fs.ReadFile(src, source)
		if err != nil {
			return err
		}
		rm.files = append(rm.files, mountFile{target: target, data: data, mode: modeBits(fi.Mode())})
		return nil
	}
	// A copy in memory: the run sees the source as it is now (with the
	// .dockerignore rules for the context), and a rw mount's writes go
	// nowhere.
	// It is held in memory as a step's files are: within the build's
	// memory limit.
	vol := runtime.NewTmpfs(s.b.layerLimit())
	if err := copyDir(s.b.ctx, engine.Of(vol), src, source, "/", copyOwner{}); err != nil {
		if engine.Of(vol).Full() {
			return fmt.Errorf("source %s: %w", orRoot(m.Source), s.b.layerFull())
		}
		return fmt.Errorf("reading %s: %w", where, err)
	}
	rm.mounts = append(rm.mounts, runtime.Mount{Target: target, Volume: vol, ReadOnly: m.ReadOnly})
	return nil
}

// cacheMount shows a persistent directory of the store.
func (s *stage) cacheMount(rm *runMounts, m *instructions.Mount, target string) error {
	if target == "" {
		return errors.New("a cache mount needs target=")
	}
	if m.From != "" || m.Source != "" {
		return errors.New("seeding a cache mount with from= or source= is not supported yet; the cache starts empty without them")
	}
	id := m.CacheID
	if id == "" {
		id = target
	}
	sum := sha256.Sum256([]byte(id))
	dir := filepath.Join(s.b.store.Dir(), "mounts", "cache", hex.EncodeToString(sum[:16]))
	mode := fs.FileMode(0o755)
	if m.Mode != nil {
		mode = fs.FileMode(*m.Mode) & fs.ModePerm
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("id %s: %w", id, err)
	}
	os.Chmod(dir, mode|0o700)
	if m.CacheSharing == instructions.MountSharingLocked || m.CacheSharing == instructions.MountSharingPrivate {
		// Both wait for the other users of the cache (private would
		// rather make a new one: the difference only shows in speed).
		unlock, err := lockDir(dir)
		if err != nil {
			return fmt.Errorf("id %s: %w", id, err)
		}
		rm.undo = append(rm.undo, unlock)
	}
	hd, err := runtime.OpenHostDir(dir)
	if err != nil {
		return fmt.Errorf("id %s: %w", id, err)
	}
	rm.undo = append(rm.undo, func() { hd.Close() })
	rm.mounts = append(rm.mounts, runtime.Mount{Target: target, Volume: hd, ReadOnly: m.ReadOnly})
	rm.key = append(rm.key, "cache "+target)
	return nil
}

// lockDir takes an exclusive lock of dir across processes.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "..", filepath.Base(dir)+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock.Lock(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { flock.Unlock(f); f.Close() }, nil
}

// secretMount places a secret for the run; it returns the file's target
// ("" when the secret is only a variable).
func (s *stage) secretMount(rm *runMounts, m *instructions.Mount, target string) (string, error) {
	id := m.CacheID
	if id == "" {
		id = m.Source
	}
	if id == "" {
		id = path.Base(target)
	}
	value, ok := s.b.opts.secrets[id]
	if !ok {
		if m.Required {
			return "", fmt.Errorf("secret %q is required but was not given (wasmbox build --secret id=%s,src=FILE)", id, id)
		}
		return "", nil // like buildkit: an optional secret that is missing is skipped
	}
	if m.Env != nil {
		name := *m.Env
		if name == "" {
			name = id
		}
		rm.env = append(rm.env, name+"="+string(value))
		if target == "" {
			return "", nil
		}
	}
	if target == "" {
		target = "/run/secrets/" + id
	}
	mode := fs.FileMode(0o400)
	if m.Mode != nil {
		mode = fs.FileMode(*m.Mode) & fs.ModePerm
	}
	rm.files = append(rm.files, mountFile{target: target, data: value, mode: mode})
	return target, nil
}

// placeFiles writes the run's mount files into ov and returns how to take
// them (and the directories made for them) away again.
func placeFiles(ov engine.FS, files []mountFile) (func(), error) {
	var made []string
	remove := func() {
		for i := len(made) - 1; i >= 0; i-- {
			ov.Uncreate(made[i])
		}
	}
	for _, f := range files {
		if _, errno := ov.Lstat(f.target); errno == 0 {
			remove()
			return nil, fmt.Errorf("RUN --mount: %s exists in the box; a file mount over it is not supported", f.target)
		}
		parts := strings.Split(strings.Trim(f.target, "/"), "/")
		for i := 1; i < len(parts); i++ {
			dir := "/" + strings.Join(parts[:i], "/")
			if _, errno := ov.Lstat(dir); errno != 0 {
				if err := ov.MkdirAll(dir, 0o755); err != nil {
					remove()
					return nil, err
				}
				made = append(made, dir)
			}
		}
		if err := ov.WriteFile(f.target, f.data, f.mode, 0, 0, time.Unix(0, 0)); err != nil {
			remove()
			return nil, err
		}
		made = append(made, f.target)
	}
	return remove, nil
}
