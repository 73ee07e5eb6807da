package applets

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A small HTTP/1.1 client for curl and wget. Not net/http: its client
// and the HTTP/2 code it carries add about 2.8 MB to busybox.wasm, for
// features these applets never use (connection pools, HTTP/2, cookies).
// One request per connection ("Connection: close"), through a proxy
// when the environment names one (CONNECT for https), redirects as curl
// follows them.

// httpHeader is a list of header fields in the order they were given or
// received, names as written.
type httpHeader []httpField

type httpField struct{ name, value string }

// get is the first value of name (any case), "" if none.
func (h httpHeader) get(name string) string {
	v, _ := h.lookup(name)
	return v
}

func (h httpHeader) lookup(name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value, true
		}
	}
	return "", false
}

// values is every value of name, in order.
func (h httpHeader) values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value)
		}
	}
	return vs
}

// del removes every field called name.
func (h *httpHeader) del(name string) {
	out := (*h)[:0]
	for _, f := range *h {
		if !strings.EqualFold(f.name, name) {
			out = append(out, f)
		}
	}
	*h = out
}

// set replaces the fields called name by one, where the first was.
func (h *httpHeader) set(name, value string) {
	for i, f := range *h {
		if strings.EqualFold(f.name, name) {
			(*h)[i] = httpField{name, value}
			rest := (*h)[i+1:]
			rest.del(name)
			*h = (*h)[:i+1+len(rest)]
			return
		}
	}
	*h = append(*h, httpField{name, value})
}

func (h *httpHeader) add(name, value string) { *h = append(*h, httpField{name, value}) }

// httpRequest is one request of an applet.
type httpRequest struct {
	method string
	url    *url.URL
	host   string // the Host field; "" the URL's
	header httpHeader
	body   []byte
	// sendBody sends Content-Length even for an empty body (a POST).
	sendBody bool
}

// httpResponse is the response to a request; body reads the entity
// (decoded from chunks, and from gzip when the client asked for it).
type httpResponse struct {
	proto      string // "HTTP/1.1"
	statusCode int
	status     string // "200 OK"
	header     httpHeader
	body       io.ReadCloser
	// contentLength is the announced length, -1 when unknown.
	contentLength int64
	// request is the request this answers (after redirects, the last).
	request *httpRequest
	// remote is the address connected to ("1.2.3.4:80").
	remote string
	// redirects is how many were followed to get here.
	redirects int
}

// location is the response's Location resolved against its request.
func (r *httpResponse) location() (*url.URL, bool) {
	loc := r.header.get("Location")
	if loc == "" {
		return nil, false
	}
	u, err := r.request.url.Parse(loc)
	return u, err == nil
}

// httpClient makes requests with the dialer, TLS and proxies of an
// applet's clientConfig.
type httpClient struct {
	env *Env
	cfg clientConfig
	tls *tls.Config
	// gzip asks for and decodes compressed bodies (curl --compressed).
	gzip bool
	// onConnect is told of each connection (curl -v).
	onConnect func(host, remote string)
	// onRequest is told of each request as sent (curl -v).
	onRequest func(head []byte)
}

// do sends req, following redirects as c.cfg allows.
func (c *httpClient) do(ctx context.Context, req *httpRequest) (*httpResponse, error) {
	for n := 0; ; n++ {
		resp, err := c.roundTrip(ctx, req)
		if err != nil {
			return nil, err
		}
		resp.redirects = n
		loc, ok := resp.location()
		redirect := ok && (resp.statusCode == 301 || resp.statusCode == 302 || resp.statusCode == 303 ||
			resp.statusCode == 307 || resp.statusCode == 308)
		if !redirect || c.cfg.redirects <= 0 {
			return resp, nil
		}
		resp.body.Close()
		if n >= c.cfg.redirects {
			return nil, &errTooManyRedirects{max: c.cfg.redirects}
		}
		if loc.Scheme != "http" && loc.Scheme != "https" {
			return nil, &unsupportedScheme{loc.Scheme}
		}
		next := *req
		next.url = loc
		next.header = append(httpHeader(nil), req.header...)
		// As curl: 301, 302 and 303 turn a POST into a GET without a
		// body (303 anything but HEAD); 307 and 308 repeat the request.
		if (resp.statusCode == 303 && req.method != "HEAD") ||
			((resp.statusCode == 301 || resp.statusCode == 302) && req.method == "POST") {
			next.method, next.body, next.sendBody = "GET", nil, false
			next.header.del("Content-Type")
		}
		// Credentials and a forced Host go to the first host only.
		if loc.Host != req.url.Host {
			next.header.del("Authorization")
			next.host = ""
		}
		if c.cfg.onRedirect != nil {
			c.cfg.onRedirect(req, &next)
		}
		req = &next
	}
}

// unsupportedScheme is a URL that is neither http nor https.
type unsupportedScheme struct{ scheme string }

func (e *unsupportedScheme) Error() string { return fmt.Sprintf("Protocol %q not supported", e.scheme) }

// defaultPort is the port of u, explicit or the scheme's.
func defaultPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// roundTrip makes one request on a new connection.
func (c *httpClient) roundTrip(ctx context.Context, req *httpRequest) (resp *httpResponse, err error) {
	target := req.url
	proxy, err := proxyFor(c.env, c.cfg.proxy, c.cfg.noProxy, target)
	if err != nil {
		return nil, err
	}
	dialTo := target
	if proxy != nil {
		if proxy.Scheme != "http" {
			return nil, &proxyError{proxy: proxy.String()}
		}
		dialTo = proxy
	}
	conn, err := c.dial(ctx, net.JoinHostPort(dialTo.Hostname(), defaultPort(dialTo)))
	if err != nil {
		if proxy != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) {
				return nil, &proxyResolveError{err}
			}
		}
		return nil, err
	}
	remote := conn.RemoteAddr().String()
	if c.onConnect != nil {
		c.onConnect(dialTo.Hostname(), remote)
	}
	// The context's end ends every wait on the connection.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	defer func() {
		if err != nil {
			stop()
			conn.Close()
			if ctx.Err() != nil {
				err = ctxError(ctx, err)
			}
		}
	}()
	br := bufio.NewReader(conn)
	if target.Scheme == "https" {
		if proxy != nil {
			if err := c.connectTunnel(conn, br, proxy, target); err != nil {
				return nil, err
			}
		}
		cfg := c.tls.Clone()
		cfg.ServerName = target.Hostname()
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		conn = tc
		br = bufio.NewReader(conn)
	}
	head := c.requestHead(req, proxy != nil && target.Scheme == "http", proxy)
	if c.onRequest != nil {
		c.onRequest(head)
	}
	if _, err := conn.Write(append(head, req.body...)); err != nil {
		return nil, err
	}
	resp, err = readResponse(br, req, c.gzip)
	if err != nil {
		return nil, err
	}
	resp.remote = remote
	resp.body = &connBody{r: resp.body, conn: conn, stop: stop, ctx: ctx}
	return resp, nil
}

var aLongTimeAgo = time.Unix(1, 0)

// ctxError is the error of a wait the context ended: a timeout when its
// deadline passed.
func ctxError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// connBody closes the connection with the body.
type connBody struct {
	r    io.ReadCloser
	conn net.Conn
	stop func() bool
	ctx  context.Context
}

func (b *connBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.ctx.Err() != nil {
		err = ctxError(b.ctx, err)
	}
	return n, err
}

func (b *connBody) Close() error {
	b.stop()
	b.r.Close()
	return b.conn.Close()
}

// proxyResolveError is a proxy whose name does not resolve (curl 5).
type proxyResolveError struct{ err error }

func (e *proxyResolveError) Error() string { return "Could not resolve proxy: " + innerText(e.err) }
func (e *proxyResolveError) Unwrap() error { return e.err }

func (c *httpClient) dial(ctx context.Context, addr string) (net.Conn, error) {
	if c.cfg.connectTimeout <= 0 {
		return dialContext(ctx, "tcp", addr)
	}
	dctx, cancel := context.WithTimeout(ctx, c.cfg.connectTimeout)
	defer cancel()
	conn, err := dialContext(dctx, "tcp", addr)
	if err != nil && dctx.Err() != nil && ctx.Err() == nil {
		return nil, &connectTimeoutError{after: c.cfg.connectTimeout, err: err}
	}
	return conn, err
}

// connectTunnel asks an http proxy for a tunnel to target.
func (c *httpClient) connectTunnel(conn net.Conn, br *bufio.Reader, proxy, target *url.URL) error {
	hp := net.JoinHostPort(target.Hostname(), defaultPort(target))
	var b bytes.Buffer
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", hp, hp)
	if proxy.User != nil {
		fmt.Fprintf(&b, "Proxy-Authorization: Basic %s\r\n", basicAuth(proxy.User))
	}
	b.WriteString("\r\n")
	if _, err := conn.Write(b.Bytes()); err != nil {
		return err
	}
	resp, err := readResponse(br, &httpRequest{method: "CONNECT", url: target}, false)
	if err != nil {
		return err
	}
	if resp.statusCode/100 != 2 {
		return &net.OpError{Op: "proxyconnect", Net: "tcp",
			Err: fmt.Errorf("CONNECT tunnel failed, response %d", resp.statusCode)}
	}
	return nil
}

func basicAuth(u *url.Userinfo) string {
	p, _ := u.Password()
	return base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + p))
}

// requestHead is the request line and header fields of req.
func (c *httpClient) requestHead(req *httpRequest, viaProxy bool, proxy *url.URL) []byte {
	var b bytes.Buffer
	uri := req.url.RequestURI()
	if viaProxy {
		u := *req.url
		u.User = nil
		uri = u.String()
	}
	host := req.host
	if host == "" {
		host = req.url.Host
		// No default port in Host, as browsers and curl send it.
		if p := req.url.Port(); (p == "80" && req.url.Scheme == "http") || (p == "443" && req.url.Scheme == "https") {
			host = req.url.Hostname()
		}
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.method, uri, host)
	for _, f := range req.header {
		if f.value == "" && !strings.HasSuffix(f.name, ";") {
			continue // a removed default
		}
		fmt.Fprintf(&b, "%s: %s\r\n", strings.TrimSuffix(f.name, ";"), f.value)
	}
	if viaProxy && proxy.User != nil {
		fmt.Fprintf(&b, "Proxy-Authorization: Basic %s\r\n", basicAuth(proxy.User))
	}
	if c.gzip {
		b.WriteString("Accept-Encoding: gzip\r\n")
	}
	if len(req.body) > 0 || req.sendBody {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(req.body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.Bytes()
}

// maxHeaderBytes bounds a response's status line and header.
const maxHeaderBytes = 1 << 20

// readResponse reads a response's head and sets up its body, decoding
// gzip when the client asked for it.
func readResponse(br *bufio.Reader, req *httpRequest, decodeGzip bool) (*httpResponse, error) {
	budget := maxHeaderBytes
	readLine := func() (string, error) {
		var line []byte
		for {
			frag, more, err := br.ReadLine()
			if err != nil {
				if err == io.EOF && len(line) > 0 {
					err = io.ErrUnexpectedEOF
				}
				return "", err
			}
			if budget -= len(frag); budget < 0 {
				return "", errors.New("response header too large")
			}
			line = append(line, frag...)
			if !more {
				return string(line), nil
			}
		}
	}
	for {
		status, err := readLine()
		if err != nil {
			return nil, err
		}
		resp := &httpResponse{request: req, contentLength: -1}
		proto, rest, ok := strings.Cut(status, " ")
		code, _, _ := strings.Cut(rest, " ")
		n, cerr := strconv.Atoi(code)
		if !ok || !strings.HasPrefix(proto, "HTTP/") || cerr != nil || len(code) != 3 {
			return nil, &badResponse{line: status}
		}
		resp.proto, resp.statusCode, resp.status = proto, n, strings.TrimSpace(rest)
		for {
			line, err := readLine()
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			if line == "" {
				break
			}
			if (line[0] == ' ' || line[0] == '\t') && len(resp.header) > 0 {
				last := &resp.header[len(resp.header)-1]
				last.value += " " + strings.TrimSpace(line)
				continue
			}
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			resp.header.add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		// 1xx responses (100 Continue) come before the real one.
		if n/100 == 1 && n != 101 {
			continue
		}
		if err := resp.setBody(br, decodeGzip); err != nil {
			return nil, err
		}
		return resp, nil
	}
}

// badResponse is an answer that is no HTTP (curl: "Unsupported HTTP
// version" or weird server reply).
type badResponse struct{ line string }

func (e *badResponse) Error() string { return fmt.Sprintf("weird server reply: %q", e.line) }

func (r *httpResponse) setBody(br *bufio.Reader, decodeGzip bool) error {
	var body io.Reader = br
	switch {
	case r.request.method == "HEAD" || r.statusCode == 204 || r.statusCode == 304 || r.request.method == "CONNECT":
		body = eofReader{}
		if cl, err := strconv.ParseInt(r.header.get("Content-Length"), 10, 64); err == nil && cl >= 0 {
			r.contentLength = cl
		}
	case strings.EqualFold(r.header.get("Transfer-Encoding"), "chunked"):
		body = &chunkedReader{r: br}
	default:
		if s, ok := r.header.lookup("Content-Length"); ok {
			cl, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || cl < 0 {
				return &badResponse{line: "Content-Length: " + s}
			}
			r.contentLength = cl
			body = &exactReader{r: br, left: cl}
		}
	}
	if decodeGzip && strings.EqualFold(r.header.get("Content-Encoding"), "gzip") {
		body = &lazyGzip{r: body}
	}
	r.body = io.NopCloser(body)
	return nil
}

// lazyGzip decodes gzip from the first read.
type lazyGzip struct {
	r  io.Reader
	zr *gzip.Reader
}

func (g *lazyGzip) Read(p []byte) (int, error) {
	if g.zr == nil {
		zr, err := gzip.NewReader(g.r)
		if err != nil {
			return 0, err
		}
		g.zr = zr
	}
	return g.zr.Read(p)
}

// exactReader reads left bytes; an end before them is
// io.ErrUnexpectedEOF (curl 18).
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if e.left <= 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

// chunkedReader decodes Transfer-Encoding: chunked.
type chunkedReader struct {
	r    *bufio.Reader
	left int64 // of the current chunk
	done bool
	err  error
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.err = io.ErrUnexpectedEOF
			return 0, c.err
		}
		size, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil || n < 0 {
			c.err = errors.New("malformed chunked encoding")
			return 0, c.err
		}
		if n == 0 {
			// Trailer fields, up to an empty line.
			for {
				l, err := c.r.ReadString('\n')
				if err != nil || strings.TrimSpace(l) == "" {
					break
				}
			}
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err != nil {
		c.err = io.ErrUnexpectedEOF
		return n, c.err
	}
	if c.left == 0 {
		// The CRLF after the chunk's data.
		if _, err := c.r.ReadString('\n'); err != nil {
			c.err = io.ErrUnexpectedEOF
			return n, nil
		}
	}
	return n, nil
}
