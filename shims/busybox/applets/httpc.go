package applets

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wasmbox/wasmbox/shims/busybox/netx"
)

// What curl and wget share: an HTTP client whose connections go through
// netx (the runner's network policy, in a box), whose TLS trusts the
// box's CA bundle, and whose proxies come from the applet's environment
// (never the process's).

// clientConfig is how an applet wants its HTTP client.
type clientConfig struct {
	insecure       bool          // no certificate check (curl -k, wget --no-check-certificate)
	caFile         string        // a CA bundle instead of the box's (curl --cacert)
	connectTimeout time.Duration // per connection; 0: none
	// redirects is how many redirects to follow; 0: none (the response
	// is the redirect).
	redirects int
	// proxy, when set, is used for every URL (curl -x); noProxy replaces
	// $no_proxy (curl --noproxy).
	proxy, noProxy *string
	// onRedirect is told of each redirect followed, and may change the
	// next request.
	onRedirect func(from, to *httpRequest)
}

// dialContext makes the client's connections: through the runner, under
// the run's network policy, in a box.
var dialContext = netx.DialContext

// errTooManyRedirects is the error of a chain longer than allowed.
type errTooManyRedirects struct{ max int }

func (e *errTooManyRedirects) Error() string { return "too many redirects" }

// newHTTPClient returns the client for cfg. The CA bundle is read only
// when an https URL may be fetched (needTLS).
func (c *cmd) newHTTPClient(cfg clientConfig, needTLS bool) (*httpClient, error) {
	tlsCfg := &tls.Config{InsecureSkipVerify: cfg.insecure}
	if needTLS && !cfg.insecure {
		pool, err := caPool(c.env, cfg.caFile)
		if err != nil {
			return nil, err
		}
		tlsCfg.RootCAs = pool
	} else if !cfg.insecure {
		tlsCfg.RootCAs = x509.NewCertPool() // never the host's roots
	}
	return &httpClient{env: c.env, cfg: cfg, tls: tlsCfg}, nil
}

// connectTimeoutError is a connection that did not happen in time.
type connectTimeoutError struct {
	after time.Duration
	err   error
}

func (e *connectTimeoutError) Error() string { return "connection timed out" }
func (e *connectTimeoutError) Unwrap() error { return e.err }
func (e *connectTimeoutError) Timeout() bool { return true }

// caFiles are the CA bundles of the common distributions, the first one
// present is used (crypto/x509's list for Linux; on wasip1 x509 has none).
var caFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Alpine, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine
}

// caPool reads the box's trusted CAs: file (curl --cacert), else
// $CURL_CA_BUNDLE or $SSL_CERT_FILE, else the first bundle of caFiles;
// plus every file of $SSL_CERT_DIR (colon-separated), or of
// /etc/ssl/certs when no bundle was found. None at all is an empty pool:
// nothing verifies (never the host's roots).
func caPool(env *Env, file string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if file == "" {
		file = env.Getenv("CURL_CA_BUNDLE")
	}
	if file == "" {
		file = env.Getenv("SSL_CERT_FILE")
	}
	found := false
	if file != "" {
		b, err := os.ReadFile(env.Abs(file))
		if err != nil {
			return nil, &caError{file: file, err: err}
		}
		pool.AppendCertsFromPEM(b)
		found = true
	} else {
		for _, f := range caFiles {
			if b, err := os.ReadFile(f); err == nil {
				pool.AppendCertsFromPEM(b)
				found = true
				break
			}
		}
	}
	dirs := env.Getenv("SSL_CERT_DIR")
	if dirs == "" && !found {
		dirs = "/etc/ssl/certs"
	}
	for _, d := range filepath.SplitList(dirs) {
		if d == "" {
			continue
		}
		d = env.Abs(d)
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join(d, e.Name())); err == nil {
				pool.AppendCertsFromPEM(b)
			}
		}
	}
	return pool, nil
}

// caError is a CA bundle that cannot be read (curl's exit 77).
type caError struct {
	file string
	err  error
}

func (e *caError) Error() string {
	return "error setting certificate file: " + e.file
}

func (e *caError) Unwrap() error { return e.err }

// proxyFor chooses the proxy of target as curl does: $http_proxy
// (lower case only) for http URLs, $https_proxy or $HTTPS_PROXY for
// https, else $all_proxy or $ALL_PROXY; none for a host $no_proxy (or
// $NO_PROXY) names. override and noProxy are curl -x and --noproxy.
func proxyFor(env *Env, override, noProxy *string, target *url.URL) (*url.URL, error) {
	np := env.Getenv("no_proxy")
	if np == "" {
		np = env.Getenv("NO_PROXY")
	}
	if noProxy != nil {
		np = *noProxy
	}
	if noProxyMatch(np, target.Hostname()) {
		return nil, nil
	}
	var p string
	switch {
	case override != nil:
		p = *override
	case target.Scheme == "https":
		p = firstEnv(env, "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
	default:
		p = firstEnv(env, "http_proxy", "all_proxy", "ALL_PROXY")
	}
	if p == "" {
		return nil, nil
	}
	if !strings.Contains(p, "://") {
		p = "http://" + p
	}
	u, err := url.Parse(p)
	if err != nil || u.Host == "" {
		return nil, &proxyError{proxy: p}
	}
	return u, nil
}

// proxyError is a proxy setting that is no URL.
type proxyError struct{ proxy string }

func (e *proxyError) Error() string { return "bad proxy: " + e.proxy }

func firstEnv(env *Env, keys ...string) string {
	for _, k := range keys {
		if v := env.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// noProxyMatch reports whether host is in list, a comma-separated
// $no_proxy: "*" (every host), a name (itself and its subdomains; a
// leading dot is the same), an address, or a CIDR range.
func noProxyMatch(list, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	ip, ipErr := netip.ParseAddr(host)
	for _, e := range strings.Split(list, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if e == "*" {
			return true
		}
		if ipErr == nil {
			if p, err := netip.ParsePrefix(e); err == nil && p.Contains(ip) {
				return true
			}
			if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil && a == ip {
				return true
			}
			continue
		}
		e = strings.TrimPrefix(strings.TrimSuffix(e, "."), ".")
		if host == e || strings.HasSuffix(host, "."+e) {
			return true
		}
	}
	return false
}

// The kinds of failure of a transfer, which curl numbers and wget words.
type netFailure int

const (
	failOther        netFailure = iota
	failResolve                 // name did not resolve (curl 6)
	failResolveProxy            // proxy name did not resolve (curl 5)
	failConnect                 // connection failed or refused (curl 7)
	failTimeout                 // deadline reached (curl 28)
	failTLS                     // handshake failed (curl 35)
	failCert                    // certificate not trusted (curl 60)
	failCAFile                  // CA bundle unreadable (curl 77)
	failRedirects               // too many redirects (curl 47)
	failEmpty                   // connection closed before a response (curl 52)
	failPartial                 // body shorter than announced (curl 18)
	failRecv                    // read error (curl 56)
	failProxy                   // bad proxy (curl 5)
	failWeird                   // no HTTP response (curl 8)
	failProtocol                // not http or https (curl 1)
)

// classify tells what kind of failure err is, with the detail worth
// printing: the runner's policy message, the resolver's, the TLS error.
func classify(err error) (netFailure, string) {
	var (
		dnsErr   *net.DNSError
		opErr    *net.OpError
		certErr  *tls.CertificateVerificationError
		uaErr    x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invErr   x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		caErr    *caError
		prErr    *proxyResolveError
		badErr   *badResponse
		schErr   *unsupportedScheme
		redirErr *errTooManyRedirects
		proxyErr *proxyError
		ct       *connectTimeoutError
	)
	switch {
	case errors.As(err, &caErr):
		return failCAFile, caErr.Error()
	case errors.As(err, &prErr):
		return failResolveProxy, prErr.Error()
	case errors.As(err, &badErr):
		return failWeird, badErr.Error()
	case errors.As(err, &schErr):
		return failProtocol, schErr.Error()
	case errors.As(err, &proxyErr):
		return failProxy, proxyErr.Error()
	case errors.As(err, &redirErr):
		return failRedirects, ""
	case errors.As(err, &ct):
		return failTimeout, ""
	case errors.As(err, &dnsErr):
		return failResolve, dnsErr.Err
	case errors.As(err, &certErr), errors.As(err, &uaErr), errors.As(err, &hostErr), errors.As(err, &invErr):
		return failCert, innerText(err)
	case errors.As(err, &recErr), errors.As(err, &alertErr):
		return failTLS, innerText(err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return failTimeout, ""
	case errors.As(err, &opErr) && opErr.Op == "dial":
		var ne net.Error
		if errors.As(opErr.Err, &ne) && ne.Timeout() {
			return failTimeout, ""
		}
		return failConnect, innerText(opErr.Err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return failPartial, ""
	case errors.Is(err, io.EOF):
		return failEmpty, ""
	case errors.As(err, &opErr) && opErr.Op == "proxyconnect":
		return failConnect, innerText(opErr.Err)
	case errors.As(err, &opErr):
		return failRecv, innerText(opErr.Err)
	}
	if strings.Contains(err.Error(), "tls: ") {
		return failTLS, innerText(err)
	}
	return failOther, innerText(err)
}

// innerText is the message of the innermost error worth showing (no
// "Get URL:" prefixes of url.Error, no "dial tcp" of net.OpError).
func innerText(err error) string {
	for {
		var ue *url.Error
		var oe *net.OpError
		var se *os.SyscallError
		switch {
		case errors.As(err, &ue) && ue.Err != nil:
			err = ue.Err
		case errors.As(err, &oe) && oe.Err != nil:
			err = oe.Err
		case errors.As(err, &se) && se.Err != nil:
			err = se.Err
		default:
			// A bare errno reads as strerror does ("Connection
			// refused"); the runner's messages stay as written.
			var errno syscall.Errno
			if errors.As(err, &errno) && err.Error() == errno.Error() {
				return upperFirst(err.Error())
			}
			return err.Error()
		}
	}
}

// parseSeconds parses a timeout of curl or wget: seconds, fractions
// allowed.
func parseSeconds(s string) (time.Duration, bool) {
	d, err := parseDuration(s)
	if err != nil || strings.ContainsAny(s, "smhd") {
		return 0, false
	}
	return d, true
}
