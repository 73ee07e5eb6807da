// Package testregistry runs a real registry for end-to-end tests and the
// bench: Debian's docker-registry package (the CNCF distribution server)
// on 127.0.0.1, storing in a directory of the caller.
package testregistry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Binary is the distribution server's command, from Debian's
// docker-registry package.
const Binary = "docker-registry"

// Available reports whether the registry and skopeo can be run. When they
// cannot and $CI is set, it returns an error: CI installs both (.ci/run),
// so a missing one there is a failure, not a reason to skip.
func Available() (bool, error) {
	for _, b := range []string{Binary, "skopeo"} {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") != "" {
				return false, fmt.Errorf("%s is not installed, and $CI is set (.ci/run installs it)", b)
			}
			return false, nil
		}
	}
	return true, nil
}

// Registry is a running registry.
type Registry struct {
	Host string // 127.0.0.1:PORT
	Data string // the storage root (docker/registry/v2/... below it)
	cmd  *exec.Cmd
	done chan error
}

// Start runs a registry storing under dir, on a free port of 127.0.0.1,
// and returns once it answers.
func Start(dir string) (*Registry, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var r *Registry
		if r, err = start(dir); err == nil {
			return r, nil
		}
	}
	return nil, err
}

func start(dir string) (*Registry, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host := l.Addr().String()
	l.Close()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "config.yml")
	yml := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, data, host)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(Binary, "serve", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &Registry{Host: host, Data: data, cmd: cmd, done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			log, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("%s exited (%v): %s", Binary, err, log)
		default:
		}
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Close()
	return nil, errors.New(Binary + " did not answer on " + host + " within 15s")
}

// Close stops the registry.
func (r *Registry) Close() {
	r.cmd.Process.Kill()
	<-r.done
}

// BlobPath is the file the registry keeps the blob digest ("sha256:HEX")
// in.
func (r *Registry) BlobPath(digest string) string {
	hex := digest[len("sha256:"):]
	return filepath.Join(r.Data, "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
}
