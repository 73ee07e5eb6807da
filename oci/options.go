package oci

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
)

// Option configures every access to a registry (Push, Pull, Fetch,
// RemoteImage, a build context's image) and Save and Load: one option type,
// so that the plain-HTTP guard applies on every path.
type Option func(*options) error

type options struct {
	keychain  authn.Keychain
	insecure  []string // host or host:port
	progress  func(Progress)
	transport http.RoundTripper
	platform  v1.Platform
	imports   []ImportOption
}

// WithKeychain sets where registry credentials come from. Default:
// authn.DefaultKeychain (the docker config file, $DOCKER_CONFIG, and the
// credential helpers it names).
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("WithKeychain(nil)")
		}
		o.keychain = k
		return nil
	}
}

// WithInsecureRegistries lets registries (host, or host:port) be reached
// over plain HTTP (--insecure-registry). Default: plain HTTP only for
// loopback registries (localhost, 127.0.0.1, [::1]); every other registry
// must speak HTTPS.
func WithInsecureRegistries(hosts ...string) Option {
	return func(o *options) error {
		for _, h := range hosts {
			if h == "" || strings.ContainsAny(h, "/ \t") {
				return fmt.Errorf("insecure registry %q: want HOST or HOST:PORT", h)
			}
			o.insecure = append(o.insecure, h)
		}
		return nil
	}
}

// WithPlatform picks the image of a foreign image index for platform
// ("linux/arm64", "linux/arm/v7"). Default: linux/amd64.
func WithPlatform(platform string) Option {
	return func(o *options) error {
		p, err := v1.ParsePlatform(platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return fmt.Errorf("platform %q: want OS/ARCH[/VARIANT]", platform)
		}
		o.platform = *p
		return nil
	}
}

// WithImportOptions are the options Fetch converts a container image
// with (see Import). Default: none.
func WithImportOptions(opts ...ImportOption) Option {
	return func(o *options) error {
		o.imports = append(o.imports, opts...)
		return nil
	}
}

// WithProgress has f called as blobs move (see Progress); calls never
// overlap. Default: no reports.
func WithProgress(f func(Progress)) Option {
	return func(o *options) error {
		var mu sync.Mutex
		o.progress = func(p Progress) {
			mu.Lock()
			defer mu.Unlock()
			f(p)
		}
		return nil
	}
}

// WithTransport sets the HTTP transport registries are reached through;
// the plain-HTTP guard stays in front of it. Default: go-containerregistry's
// remote.DefaultTransport (proxy settings from the environment) with
// timeouts for dialing (15s), TLS handshakes (15s) and response headers
// (60s), so that an unreachable registry is reported as ErrUnreachable.
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error {
		o.transport = t
		return nil
	}
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{keychain: authn.DefaultKeychain, transport: defaultTransport(), platform: v1.Platform{OS: "linux", Architecture: "amd64"}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.progress == nil {
		o.progress = func(Progress) {}
	}
	return o, nil
}

func defaultTransport() http.RoundTripper {
	base, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		return remote.DefaultTransport
	}
	tr := base.Clone()
	tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 15 * time.Second
	tr.ResponseHeaderTimeout = 60 * time.Second
	return tr
}

// plainHTTP reports whether host (host or host:port, as in a reference)
// may be reached without TLS.
func (o *options) plainHTTP(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, h := range o.insecure {
		if strings.EqualFold(h, hostport) || strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// parseRef parses a registry reference (docker's defaults: docker.io,
// latest), marking it plain-HTTP when allowed.
func (o *options) parseRef(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid reference %q: %w", ref, err)
	}
	if o.plainHTTP(r.Context().RegistryStr()) {
		r, err = name.ParseReference(ref, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("invalid reference %q: %w", ref, err)
		}
	}
	return r, nil
}

// remoteOptions are the go-containerregistry options for o.
func (o *options) remoteOptions() []remote.Option {
	return []remote.Option{
		remote.WithAuthFromKeychain(o.keychain),
		remote.WithTransport(&httpGuard{base: o.transport, o: o}),
		remote.WithUserAgent("wasmbox"),
	}
}

// httpGuard refuses plain HTTP to registries that are neither loopback nor
// declared insecure. go-containerregistry also falls back to HTTP for
// private (RFC 1918) addresses, where a man in the middle is as possible
// as anywhere.
type httpGuard struct {
	base http.RoundTripper
	o    *options
}

func (g *httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.o.plainHTTP(req.URL.Host) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries and --insecure-registry hosts are reached without TLS", req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// Progress reports the transfer of one blob.
type Progress struct {
	Digest    digest.Digest // the blob as it travels (compressed layers: the compressed digest)
	MediaType string
	Size      int64 // bytes in all
	Done      int64 // bytes moved so far
	State     ProgressState
}

// ProgressState says where a blob is.
type ProgressState int

const (
	// Moving: bytes are being transferred (Done of Size).
	Moving ProgressState = iota
	// Complete: every byte moved and checked.
	Complete
	// Exists: the other side had it already; nothing moved.
	Exists
)

func (s ProgressState) String() string {
	switch s {
	case Moving:
		return "moving"
	case Complete:
		return "complete"
	case Exists:
		return "exists"
	}
	return fmt.Sprintf("ProgressState(%d)", int(s))
}

// ErrNotABox is what a *NotABoxError is (errors.Is).
var ErrNotABox = errors.New("not a box")

// NotABoxError reports an image that is not a box: another platform than
// wasip1/wasm, or layers that are not fsimages. Pull returns it with the
// image as found, so that a converter (flatten, wasmify) can take it from
// there; Load returns it without (the archive is gone once Load returns).
type NotABoxError struct {
	Ref    string // where it was found
	Reason string // what makes it foreign, e.g. "platform linux/amd64"
	// Image is the image found (one manifest), or nil; Index is the
	// image index found (several platforms, none wasip1/wasm), or nil.
	// Both read lazily from the registry with Pull's options.
	Image v1.Image
	Index v1.ImageIndex
}

func (e *NotABoxError) Error() string {
	return fmt.Sprintf("%s is not a wasmbox box: %s", e.Ref, e.Reason)
}

// Is makes errors.Is(err, ErrNotABox) true.
func (e *NotABoxError) Is(target error) bool { return target == ErrNotABox }
