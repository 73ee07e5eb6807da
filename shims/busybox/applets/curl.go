package applets

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

func init() { register("curl", curl) }

var curlSpec = optSpec{
	short: "fsSLo:OH:d:X:Ikw:m:u:A:vx:iGe:q46#N",
	long: map[string]string{
		"fail": "f", "fail-with-body": "fail-with-body", "silent": "s", "show-error": "S",
		"location": "L", "output=": "o", "remote-name": "O", "header=": "H",
		"data=": "d", "data-ascii=": "d", "data-raw=": "data-raw", "data-binary=": "data-binary",
		"data-urlencode=": "data-urlencode", "request=": "X", "head": "I", "insecure": "k",
		"write-out=": "w", "max-time=": "m", "connect-timeout=": "connect-timeout",
		"user=": "u", "user-agent=": "A", "verbose": "v", "proxy=": "x", "noproxy=": "noproxy",
		"include": "i", "get": "G", "referer=": "e", "retry=": "retry", "retry-delay=": "retry-delay",
		"retry-max-time=": "retry-max-time", "retry-connrefused": "retry-connrefused",
		"retry-all-errors": "retry-all-errors", "max-redirs=": "max-redirs", "cacert=": "cacert",
		"compressed": "compressed", "http1.1": "http1.1", "ipv4": "4", "ipv6": "6",
		"progress-bar": "#", "no-buffer": "N", "create-dirs": "create-dirs", "url=": "url",
		"no-progress-meter": "no-progress-meter",
	},
	usage: 2,
}

// curlOpts is a parsed curl command line.
type curlOpts struct {
	urls         []string
	outputs      []string // -o FILE per URL, in order; "" for -O
	fail         bool
	failWithBody bool
	silent       bool
	showError    bool
	location     bool
	maxRedirs    int
	headers      []string
	data         []curlData
	dataGet      bool
	method       string
	head         bool
	include      bool
	insecure     bool
	writeOut     string
	maxTime      time.Duration
	connTimeout  time.Duration
	user         string
	userAgent    *string
	referer      string
	verbose      bool
	proxy        *string
	noProxy      *string
	retries      int
	retryDelay   time.Duration
	retryMaxTime time.Duration
	retryConnRef bool
	retryAll     bool
	cacert       string
	createDirs   bool
	compressed   bool
}

// curlData is one -d, --data-raw, --data-binary or --data-urlencode.
type curlData struct {
	kind string // "d", "data-raw", "data-binary", "data-urlencode"
	arg  string
}

// curlUsage is a bad command line: curl's exit 2 (options), 3 (URL).
type curlUsage struct {
	code int
	msg  string
}

func parseCurl(args []string) (*curlOpts, *curlUsage) {
	o, operands, err := curlSpec.parse(args)
	if err != nil {
		return nil, &curlUsage{2, "option " + err.Error() + "\ncurl: try 'curl --help' for more information"}
	}
	c := &curlOpts{maxRedirs: 50, urls: append(o.all("url"), operands...)}
	for _, x := range o.list {
		switch x.key {
		case "o":
			c.outputs = append(c.outputs, x.arg)
		case "O":
			c.outputs = append(c.outputs, "")
		case "d", "data-raw", "data-binary", "data-urlencode":
			c.data = append(c.data, curlData{x.key, x.arg})
		case "H":
			c.headers = append(c.headers, x.arg)
		}
	}
	c.fail = o.has("f") || o.has("fail-with-body")
	c.failWithBody = o.has("fail-with-body")
	c.silent = o.has("s")
	c.showError = o.has("S")
	c.location = o.has("L")
	c.dataGet = o.has("G")
	c.method = o.str("X", "")
	c.head = o.has("I")
	c.include = o.has("i")
	c.insecure = o.has("k")
	c.writeOut = o.str("w", "")
	c.user = o.str("u", "")
	c.referer = o.str("e", "")
	c.verbose = o.has("v")
	c.retryConnRef = o.has("retry-connrefused")
	c.retryAll = o.has("retry-all-errors")
	c.cacert = o.str("cacert", "")
	c.createDirs = o.has("create-dirs")
	c.compressed = o.has("compressed")
	if v, ok := o.val("A"); ok {
		c.userAgent = &v
	}
	if v, ok := o.val("x"); ok {
		c.proxy = &v
	}
	if v, ok := o.val("noproxy"); ok {
		c.noProxy = &v
	}
	seconds := func(key, name string) (time.Duration, *curlUsage) {
		v, ok := o.val(key)
		if !ok {
			return 0, nil
		}
		d, good := parseSeconds(v)
		if !good {
			return 0, &curlUsage{2, fmt.Sprintf("option --%s: expected a proper numerical parameter", name)}
		}
		return d, nil
	}
	integer := func(key, name string, dst *int) *curlUsage {
		v, ok := o.val(key)
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 {
			return &curlUsage{2, fmt.Sprintf("option --%s: expected a proper numerical parameter", name)}
		}
		*dst = n
		return nil
	}
	var u *curlUsage
	if c.maxTime, u = seconds("m", "max-time"); u != nil {
		return nil, u
	}
	if c.connTimeout, u = seconds("connect-timeout", "connect-timeout"); u != nil {
		return nil, u
	}
	if c.retryDelay, u = seconds("retry-delay", "retry-delay"); u != nil {
		return nil, u
	}
	if c.retryMaxTime, u = seconds("retry-max-time", "retry-max-time"); u != nil {
		return nil, u
	}
	if u = integer("retry", "retry", &c.retries); u != nil {
		return nil, u
	}
	if u = integer("max-redirs", "max-redirs", &c.maxRedirs); u != nil {
		return nil, u
	}
	if len(c.urls) == 0 {
		return nil, &curlUsage{2, "no URL specified\ncurl: try 'curl --help' for more information"}
	}
	return c, nil
}

// curl fetches URLs over HTTP and HTTPS, the subset of curl that
// healthchecks and scripts use. Exit statuses are curl's.
func curl(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, u := parseCurl(args[1:])
	if u != nil {
		c.out.Flush()
		fmt.Fprintf(c.stderr(), "curl: %s\n", u.msg)
		return u.code
	}
	code := 0
	for i, raw := range o.urls {
		out := "-"
		if i < len(o.outputs) {
			out = o.outputs[i]
		}
		if code = c.curlOne(o, raw, out); code != 0 {
			break
		}
	}
	return c.finish(code)
}

// curlError prints "curl: (N) message" unless silenced, and returns N.
func (c *cmd) curlError(o *curlOpts, code int, format string, a ...any) int {
	if !o.silent || o.showError {
		c.out.Flush()
		fmt.Fprintf(c.stderr(), "curl: (%d) %s\n", code, fmt.Sprintf(format, a...))
	}
	return code
}

// curlOne fetches one URL into out ("-" stdout, "" the remote name),
// retrying as --retry says.
func (c *cmd) curlOne(o *curlOpts, raw, out string) int {
	target, err := curlURL(raw)
	if err != nil {
		return c.curlError(o, 3, "URL rejected: %s", err)
	}
	if target.Scheme != "http" && target.Scheme != "https" {
		return c.curlError(o, 1, "Protocol \"%s\" not supported", target.Scheme)
	}
	body, hasBody, ctype, err := c.curlBody(o)
	if err != nil {
		return c.curlError(o, 26, "%s", err)
	}
	if hasBody && o.dataGet {
		q := target.RawQuery
		if q != "" {
			q += "&"
		}
		target.RawQuery = q + string(body)
		body, hasBody = nil, false
	}
	start := time.Now()
	delay := o.retryDelay
	if delay == 0 {
		delay = time.Second
	}
	for left := o.retries; ; left-- {
		r := c.curlTry(o, target, out, body, hasBody, ctype)
		code := r.code
		last := !r.retry || left <= 0 || c.ctx.Err() != nil ||
			(o.retryMaxTime > 0 && time.Since(start)+delay > o.retryMaxTime)
		if last {
			if r.msg != "" {
				c.curlError(o, code, "%s", r.msg)
			}
			return code
		}
		if !o.silent {
			c.out.Flush()
			fmt.Fprintf(c.stderr(), "Warning: Problem : %s. Will retry in %d second%s. %d retr%s left.\n",
				retryReason(code), int(delay.Seconds()), plural(int(delay.Seconds()), "", "s"), left, plural(left, "y", "ies"))
		}
		select {
		case <-c.ctx.Done():
			return code
		case <-time.After(delay):
		}
		if o.retryDelay == 0 {
			delay = min(2*delay, 10*time.Minute)
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func retryReason(code int) string {
	switch code {
	case 28:
		return "timeout"
	case 7:
		return "connection refused"
	case 22:
		return "HTTP error"
	}
	return "error"
}

// curlURL parses a URL as curl does: no scheme means http.
func curlURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("Malformed input to a URL function")
	}
	if u.Host == "" {
		return nil, fmt.Errorf("No host part in the URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// curlBody joins the -d family as curl does: with '&' between, @FILE
// read (-d strips newlines, --data-binary keeps them), @- is stdin.
func (c *cmd) curlBody(o *curlOpts) ([]byte, bool, string, error) {
	if len(o.data) == 0 {
		return nil, false, "", nil
	}
	var parts [][]byte
	for _, d := range o.data {
		var b []byte
		switch d.kind {
		case "data-raw":
			b = []byte(d.arg)
		case "data-urlencode":
			name, val, hasEq := strings.Cut(d.arg, "=")
			switch {
			case hasEq && name == "":
				b = []byte(url.QueryEscape(val))
			case hasEq:
				b = []byte(name + "=" + url.QueryEscape(val))
			default:
				b = []byte(url.QueryEscape(d.arg))
			}
			b = bytes.ReplaceAll(b, []byte("+"), []byte("%20"))
		default:
			if !strings.HasPrefix(d.arg, "@") {
				b = []byte(d.arg)
				break
			}
			var err error
			name := d.arg[1:]
			if name == "-" {
				b, err = io.ReadAll(c.stdin())
			} else {
				b, err = os.ReadFile(c.abs(name))
			}
			if err != nil {
				c.out.Flush()
				if !o.silent {
					fmt.Fprintf(c.stderr(), "Warning: Couldn't read data from file \"%s\", this makes an empty POST.\n", name)
				}
				b = nil
			}
			if d.kind == "d" {
				b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)
			}
		}
		parts = append(parts, b)
	}
	return bytes.Join(parts, []byte("&")), true, "application/x-www-form-urlencoded", nil
}

// curlResult is the outcome of one attempt: the exit status, the
// message to print if it is the last, and whether --retry may try again.
type curlResult struct {
	code  int
	msg   string
	retry bool
}

func curlFail(code int, retry bool, format string, a ...any) curlResult {
	return curlResult{code: code, msg: fmt.Sprintf(format, a...), retry: retry}
}

// curlTry makes one attempt.
func (c *cmd) curlTry(o *curlOpts, target *url.URL, out string, body []byte, hasBody bool, ctype string) curlResult {
	ctx := c.ctx
	if o.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.maxTime)
		defer cancel()
	}
	redirects := 0
	if o.location {
		redirects = o.maxRedirs
		if redirects < 0 {
			redirects = 1 << 20
		}
	}
	client, err := c.newHTTPClient(clientConfig{
		insecure: o.insecure, caFile: o.cacert, connectTimeout: o.connTimeout,
		redirects: redirects, proxy: o.proxy, noProxy: o.noProxy,
		onRedirect: func(_, to *httpRequest) {
			// -X applies to every request of the chain, except that
			// curl lets a redirect turn a POST into a GET.
			if o.method != "" && o.method != "POST" {
				to.method = o.method
			}
		},
	}, target.Scheme == "https" || o.location)
	if err != nil {
		f, msg := classify(err)
		return curlFail(curlCode(f), false, "%s", msg)
	}
	client.gzip = o.compressed
	req := &httpRequest{method: "GET", url: target, body: body, sendBody: hasBody}
	switch {
	case o.method != "":
		req.method = o.method
	case o.head:
		req.method = "HEAD"
	case hasBody:
		req.method = "POST"
	}
	ua := "curl/8.5.0"
	if o.userAgent != nil {
		ua = *o.userAgent
	}
	req.header.set("User-Agent", ua) // "" is dropped when sent
	req.header.set("Accept", "*/*")
	if hasBody {
		req.header.set("Content-Type", ctype)
	}
	if o.referer != "" {
		req.header.set("Referer", o.referer)
	}
	switch {
	case o.user != "":
		req.header.set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(o.user)))
	case target.User != nil:
		req.header.set("Authorization", "Basic "+basicAuth(target.User))
	}
	for _, h := range o.headers {
		setCurlHeader(req, h)
	}
	if o.verbose {
		client.onConnect = func(host, remote string) {
			c.out.Flush()
			fmt.Fprintf(c.stderr(), "* Connected to %s (%s)\n", host, remote)
		}
		client.onRequest = func(head []byte) {
			c.out.Flush()
			curlShow(c.stderr(), "> ", string(head))
		}
	}
	start := time.Now()
	resp, err := client.do(ctx, req)
	if err != nil {
		f, msg := classify(err)
		code := curlCode(f)
		retry := o.retryAll || f == failTimeout || f == failResolve || (f == failConnect && o.retryConnRef)
		return curlFail(code, retry, "%s", curlMessage(f, msg, target, o, time.Since(start)))
	}
	defer resp.body.Close()
	if o.verbose {
		c.out.Flush()
		curlShow(c.stderr(), "< ", curlHeaderBlock(resp))
	}
	st := &curlStats{resp: resp, start: start}
	failed := o.fail && resp.statusCode >= 400
	retryStatus := resp.statusCode == 408 || resp.statusCode == 429 || resp.statusCode == 500 ||
		resp.statusCode == 502 || resp.statusCode == 503 || resp.statusCode == 504
	if failed && !o.failWithBody {
		st.exit = 22
		c.curlWriteOut(o, st)
		return curlFail(22, retryStatus || o.retryAll, "The requested URL returned error: %d", resp.statusCode)
	}
	w, closeOut, werr := c.curlOutput(o, out, resp.request.url)
	if werr != nil {
		return curlFail(23, false, "%s", werr)
	}
	if o.include || o.head {
		hdr := curlHeaderBlock(resp)
		st.headerSize = len(hdr)
		if _, err := io.WriteString(w, hdr); err != nil {
			closeOut()
			return curlFail(23, false, "Failure writing output to destination")
		}
	}
	n, rerr := io.Copy(w, &readErr{r: resp.body})
	st.size = n
	if cerr := closeOut(); cerr != nil && rerr == nil {
		rerr = &writeErr{cerr}
	}
	if rerr != nil {
		if we, ok := rerr.(*writeErr); ok {
			if isBrokenPipe(we.err) {
				return curlResult{code: 23}
			}
			return curlFail(23, false, "Failure writing output to destination")
		}
		f, msg := classify(rerr)
		code := curlCode(f)
		if f == failPartial && resp.contentLength > 0 {
			msg = fmt.Sprintf("transfer closed with %d bytes remaining to read", resp.contentLength-n)
		} else {
			msg = curlMessage(f, msg, resp.request.url, o, time.Since(start))
		}
		st.exit = code
		c.curlWriteOut(o, st)
		return curlFail(code, f == failTimeout || o.retryAll, "%s", msg)
	}
	if failed {
		st.exit = 22
		c.curlWriteOut(o, st)
		return curlFail(22, retryStatus || o.retryAll, "The requested URL returned error: %d", resp.statusCode)
	}
	c.curlWriteOut(o, st)
	if o.retries > 0 && retryStatus {
		return curlResult{retry: true} // curl retries these even without -f
	}
	return curlResult{}
}

// readErr and writeErr tell io.Copy's two kinds of failure apart.
type readErr struct{ r io.Reader }

func (r *readErr) Read(p []byte) (int, error) { return r.r.Read(p) }

type writeErr struct{ err error }

func (e *writeErr) Error() string { return e.err.Error() }

// curlOutput opens where the body goes: stdout, a file (created when the
// response comes, as curl does), or the URL's own name (-O).
func (c *cmd) curlOutput(o *curlOpts, out string, target *url.URL) (io.Writer, func() error, error) {
	if out == "-" {
		return &wrapWrite{c.out}, func() error { return c.out.Flush() }, nil
	}
	if out == "" {
		out = path.Base(target.Path)
		if out == "/" || out == "." || out == "" {
			return nil, nil, fmt.Errorf("Remote file name has no length")
		}
	}
	p := c.abs(out)
	if o.createDirs {
		os.MkdirAll(path.Dir(p), 0o755)
	}
	f, err := os.Create(p)
	if err != nil {
		return nil, nil, fmt.Errorf("Failed to open the file %s: %s", out, errText(err))
	}
	return &wrapWrite{f}, f.Close, nil
}

// wrapWrite marks write errors for curlTry.
type wrapWrite struct{ w io.Writer }

func (w *wrapWrite) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		return n, &writeErr{err}
	}
	return n, nil
}

// setCurlHeader applies one -H: "Name: value" sets, "Name:" removes a
// header curl would send, "Name;" sends it empty.
func setCurlHeader(req *httpRequest, h string) {
	name, val, ok := strings.Cut(h, ":")
	if !ok {
		if n, found := strings.CutSuffix(h, ";"); found {
			req.header.add(strings.TrimSpace(n)+";", "")
		}
		return
	}
	name = strings.TrimSpace(name)
	val = strings.TrimSpace(val)
	switch {
	case strings.EqualFold(name, "Host"):
		req.host = val
	case val == "":
		req.header.del(name)
	case isCurlDefault(name):
		req.header.set(name, val)
	default:
		req.header.add(name, val)
	}
}

// isCurlDefault is true of the fields -H replaces rather than adds to.
func isCurlDefault(name string) bool {
	for _, d := range []string{"Accept", "User-Agent", "Content-Type", "Authorization", "Referer"} {
		if strings.EqualFold(name, d) {
			return true
		}
	}
	return false
}

// curlCode is curl's exit status for a kind of failure.
func curlCode(f netFailure) int {
	switch f {
	case failResolve:
		return 6
	case failResolveProxy, failProxy:
		return 5
	case failConnect:
		return 7
	case failTimeout:
		return 28
	case failTLS:
		return 35
	case failCert:
		return 60
	case failCAFile:
		return 77
	case failRedirects:
		return 47
	case failEmpty:
		return 52
	case failPartial:
		return 18
	case failRecv:
		return 56
	}
	return 1
}

// curlMessage is curl's message for a failure, with the detail (the
// network policy's words, the TLS error) where curl prints its own.
func curlMessage(f netFailure, detail string, target *url.URL, o *curlOpts, took time.Duration) string {
	host, port := target.Hostname(), defaultPort(target)
	switch f {
	case failResolve:
		msg := "Could not resolve host: " + host
		if detail != "" && detail != "no such host" {
			msg += ": " + detail
		}
		return msg
	case failConnect:
		if detail == "" || strings.EqualFold(detail, "connection refused") {
			detail = "Couldn't connect to server"
		}
		return fmt.Sprintf("Failed to connect to %s port %s after %d ms: %s", host, port, took.Milliseconds(), detail)
	case failTimeout:
		if o.maxTime > 0 && took >= o.maxTime-10*time.Millisecond {
			return fmt.Sprintf("Operation timed out after %d milliseconds", took.Milliseconds())
		}
		return fmt.Sprintf("Connection timed out after %d milliseconds", took.Milliseconds())
	case failTLS:
		return "TLS connect error: " + detail
	case failCert:
		return "SSL certificate problem: " + detail
	case failRedirects:
		return fmt.Sprintf("Maximum (%d) redirects followed", o.maxRedirs)
	case failEmpty:
		return "Empty reply from server"
	case failRecv:
		return "Recv failure: " + detail
	}
	return detail
}

// curlHeaderBlock is the status line and header fields as received,
// as -i and -I print them.
func curlHeaderBlock(resp *httpResponse) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\r\n", resp.proto, resp.status)
	for _, f := range resp.header {
		fmt.Fprintf(&b, "%s: %s\r\n", f.name, f.value)
	}
	b.WriteString("\r\n")
	return b.String()
}

// curlShow prints a request's or response's head for -v, each line
// after prefix.
func curlShow(w io.Writer, prefix, head string) {
	for _, line := range strings.Split(strings.TrimSuffix(head, "\r\n"), "\r\n") {
		fmt.Fprintf(w, "%s%s\n", prefix, line)
	}
}

// curlStats is what -w may print of a transfer.
type curlStats struct {
	resp       *httpResponse
	start      time.Time
	size       int64
	headerSize int
	exit       int
}

// curlWriteOut prints -w's format: %{variable}, %% and \n \r \t; @FILE
// reads the format from a file, @- from stdin.
func (c *cmd) curlWriteOut(o *curlOpts, st *curlStats) {
	f := o.writeOut
	if f == "" {
		return
	}
	if strings.HasPrefix(f, "@") {
		var b []byte
		var err error
		if f == "@-" {
			b, err = io.ReadAll(c.stdin())
		} else {
			b, err = os.ReadFile(c.abs(f[1:]))
		}
		if err != nil {
			return
		}
		f = string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(f); i++ {
		ch := f[i]
		switch {
		case ch == '%' && i+1 < len(f) && f[i+1] == '%':
			sb.WriteByte('%')
			i++
		case ch == '%' && strings.HasPrefix(f[i:], "%{"):
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				sb.WriteString(f[i:])
				i = len(f)
				continue
			}
			name := f[i+2 : i+end]
			i += end
			v, ok := curlVar(name, st)
			if !ok {
				c.out.Flush()
				fmt.Fprintf(c.stderr(), "curl: unknown --write-out variable: '%s'\n", name)
				continue
			}
			sb.WriteString(v)
		case ch == '\\' && i+1 < len(f):
			switch f[i+1] {
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			default:
				sb.WriteByte('\\')
				sb.WriteByte(f[i+1])
			}
			i++
		default:
			sb.WriteByte(ch)
		}
	}
	c.out.WriteString(sb.String())
}

func curlVar(name string, st *curlStats) (string, bool) {
	r := st.resp
	secs := func(d time.Duration) string { return fmt.Sprintf("%.6f", d.Seconds()) }
	switch name {
	case "http_code", "response_code":
		return fmt.Sprintf("%03d", r.statusCode), true
	case "url_effective", "url":
		return r.request.url.String(), true
	case "content_type":
		return r.header.get("Content-Type"), true
	case "size_download":
		return strconv.FormatInt(st.size, 10), true
	case "size_header":
		return strconv.Itoa(st.headerSize), true
	case "num_redirects":
		return strconv.Itoa(r.redirects), true
	case "redirect_url":
		if loc, ok := r.location(); ok && r.statusCode/100 == 3 {
			return loc.String(), true
		}
		return "", true
	case "remote_ip", "remote_port":
		h, p, err := net.SplitHostPort(r.remote)
		if err != nil {
			return "", true
		}
		if name == "remote_ip" {
			return h, true
		}
		return p, true
	case "method":
		return r.request.method, true
	case "scheme":
		return strings.ToUpper(r.request.url.Scheme), true
	case "http_version":
		return strings.TrimPrefix(r.proto, "HTTP/"), true
	case "exitcode":
		return strconv.Itoa(st.exit), true
	case "time_total", "time_starttransfer":
		return secs(time.Since(st.start)), true
	case "time_namelookup", "time_connect", "time_appconnect", "time_pretransfer", "time_redirect":
		return secs(0), true
	}
	return "", false
}
