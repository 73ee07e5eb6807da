package applets

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"
	"time"
)

func init() { register("wget", wget) }

var wgetSpec = optSpec{
	short: "cqO:o:P:SU:T:Y:t:e:nsv",
	long: map[string]string{
		"continue": "c", "quiet": "q", "output-document=": "O", "output-file=": "o",
		"directory-prefix=": "P", "server-response": "S", "user-agent=": "U", "timeout=": "T",
		"proxy=": "Y", "tries=": "t", "execute=": "e",
		"spider": "spider", "header=": "header", "no-check-certificate": "no-check-certificate",
		"post-data=": "post-data", "post-file=": "post-file", "method=": "method",
		"body-data=": "body-data", "no-verbose": "n", "verbose": "v",
	},
}

// wgetOpts is a parsed wget command line.
type wgetOpts struct {
	urls      []string
	quiet     bool
	output    string // -O; "" the URL's name, "-" stdout
	log       string // -o
	prefix    string // -P
	serverRsp bool
	userAgent string
	timeout   time.Duration
	noProxy   bool
	spider    bool
	headers   []string
	insecure  bool
	method    string
	body      *string
	bodyFile  string
}

// wgetTimeout is busybox's default -T: 900 seconds.
const wgetTimeout = 900 * time.Second

// wgetRedirects is how many redirects busybox follows.
const wgetRedirects = 5

func parseWget(args []string) (*wgetOpts, string) {
	o, operands, err := wgetSpec.parse(args)
	if err != nil {
		return nil, err.Error()
	}
	w := &wgetOpts{
		urls:      operands,
		quiet:     o.has("q"),
		output:    o.str("O", ""),
		log:       o.str("o", ""),
		prefix:    o.str("P", ""),
		serverRsp: o.has("S"),
		userAgent: o.str("U", "Wget"),
		timeout:   wgetTimeout,
		noProxy:   o.str("Y", "on") == "off",
		spider:    o.has("spider"),
		headers:   o.all("header"),
		insecure:  o.has("no-check-certificate"),
		method:    o.str("method", ""),
		bodyFile:  o.str("post-file", ""),
	}
	if v, ok := o.val("post-data"); ok {
		w.body = &v
	} else if v, ok := o.val("body-data"); ok {
		w.body = &v
	}
	if v, ok := o.val("T"); ok {
		d, good := parseSeconds(v)
		if !good {
			return nil, fmt.Sprintf("invalid number '%s'", v)
		}
		w.timeout = d
	}
	if len(w.urls) == 0 {
		return nil, "missing URL"
	}
	return w, ""
}

// wget fetches URLs the way busybox wget does: to a file named after the
// URL (or -O), exit 1 with busybox's messages on any error.
func wget(ctx context.Context, env *Env, args []string) int {
	c := newCmd(ctx, env, args)
	o, msg := parseWget(args[1:])
	if o == nil {
		return c.fail(1, "%s", msg)
	}
	// Progress and messages go to stderr, or the -o log file.
	logw := c.stderr()
	if o.log != "" {
		f, err := os.Create(c.abs(o.log))
		if err != nil {
			return c.fail(1, "can't open '%s': %s", o.log, errText(err))
		}
		defer f.Close()
		logw = f
	}
	for _, raw := range o.urls {
		if code := c.wgetOne(o, raw, logw); code != 0 {
			return c.finish(code)
		}
	}
	return c.finish(0)
}

func (c *cmd) wgetOne(o *wgetOpts, raw string, logw io.Writer) int {
	say := func(format string, a ...any) {
		if !o.quiet {
			c.out.Flush()
			fmt.Fprintf(logw, format+"\n", a...)
		}
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	target, err := url.Parse(raw)
	if err != nil || target.Host == "" {
		return c.fail(1, "bad address '%s'", raw)
	}
	if target.Scheme != "http" && target.Scheme != "https" {
		return c.fail(1, "not an http or https URL: %s", raw)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	noProxy := "*"
	var np *string
	if o.noProxy {
		np = &noProxy
	}
	client, err := c.newHTTPClient(clientConfig{
		insecure: o.insecure, connectTimeout: o.timeout, redirects: wgetRedirects, noProxy: np,
		onRedirect: func(_, to *httpRequest) {
			say("Connecting to %s (%s)", to.url.Hostname(), hostPort(to.url))
		},
	}, true)
	if err != nil {
		return c.wgetFail(err, target)
	}
	req := &httpRequest{method: "GET", url: target}
	switch {
	case o.bodyFile != "":
		b, err := os.ReadFile(c.abs(o.bodyFile))
		if err != nil {
			return c.fail(1, "can't open '%s': %s", o.bodyFile, errText(err))
		}
		req.method, req.body, req.sendBody = "POST", b, true
	case o.body != nil:
		req.method, req.body, req.sendBody = "POST", []byte(*o.body), true
	}
	if o.method != "" {
		req.method = strings.ToUpper(o.method)
	}
	req.header.set("User-Agent", o.userAgent)
	if req.sendBody {
		req.header.set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range o.headers {
		name, val, ok := strings.Cut(h, ":")
		if !ok {
			continue
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if strings.EqualFold(name, "Host") {
			req.host = val
			continue
		}
		req.header.set(name, val)
	}
	say("Connecting to %s (%s)", target.Hostname(), hostPort(target))
	// -T bounds every wait for the server (busybox: "download timed
	// out"), not the whole transfer.
	idle := time.AfterFunc(o.timeout, cancel)
	defer idle.Stop()
	resp, err := client.do(ctx, req)
	if err != nil {
		if !idle.Stop() {
			return c.fail(1, "download timed out")
		}
		return c.wgetFail(err, target)
	}
	defer resp.body.Close()
	if o.serverRsp {
		c.out.Flush()
		fmt.Fprintf(logw, "  %s %s\n", resp.proto, resp.status)
		for _, f := range resp.header {
			fmt.Fprintf(logw, "  %s: %s\n", f.name, f.value)
		}
	}
	if resp.statusCode >= 300 {
		return c.fail(1, "server returned error: %s %s", resp.proto, resp.status)
	}
	if o.spider {
		say("remote file exists")
		return 0
	}
	name := o.output
	if name == "" {
		name = path.Base(resp.request.url.Path)
		if name == "/" || name == "." || name == "" {
			name = "index.html"
		}
		if o.prefix != "" {
			name = path.Join(o.prefix, name)
		}
	}
	var w io.Writer = c.out
	if name == "-" {
		say("writing to stdout")
	} else {
		f, err := os.Create(c.abs(name))
		if err != nil {
			return c.fail(1, "can't open '%s': %s", name, errText(err))
		}
		defer f.Close()
		w = f
		say("saving to '%s'", name)
	}
	idle.Reset(o.timeout)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.body.Read(buf)
		if n > 0 {
			idle.Reset(o.timeout)
			if _, err := w.Write(buf[:n]); err != nil {
				if name == "-" {
					return c.finish(1)
				}
				return c.fail(1, "write error: %s", errText(err))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return c.fail(1, "download timed out")
			}
			if f, _ := classify(rerr); f == failPartial {
				return c.fail(1, "connection closed prematurely")
			}
			return c.fail(1, "error getting response: %s", errText(rerr))
		}
	}
	if name == "-" {
		say("written to stdout")
	} else {
		if f, ok := w.(*os.File); ok {
			if err := f.Close(); err != nil {
				return c.fail(1, "write error: %s", errText(err))
			}
		}
		say("'%s' saved", name)
	}
	return 0
}

// hostPort is the address busybox prints after the host name.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

// wgetFail prints busybox's message for a failed request, with the
// network policy's words where busybox would print strerror.
func (c *cmd) wgetFail(err error, target *url.URL) int {
	f, detail := classify(err)
	switch f {
	case failResolve:
		if detail != "" && detail != "no such host" {
			return c.fail(1, "bad address '%s': %s", target.Hostname(), detail)
		}
		return c.fail(1, "bad address '%s'", target.Hostname())
	case failConnect:
		return c.fail(1, "can't connect to remote host (%s): %s", target.Hostname(), detail)
	case failTimeout:
		return c.fail(1, "download timed out")
	case failTLS, failCert:
		return c.fail(1, "TLS error from peer: %s", detail)
	case failRedirects:
		return c.fail(1, "too many redirections")
	case failEmpty:
		return c.fail(1, "error getting response: Connection reset by peer")
	}
	return c.fail(1, "error getting response: %s", detail)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
