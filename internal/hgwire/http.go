package hgwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// Options configure a connection.
type Options struct {
	// HTTPClient is used for HTTP(S) sources (nil: a shared client with
	// no overall timeout, see defaultClient; bound calls with the context).
	HTTPClient *http.Client
	// Username and Password are sent as HTTP Basic credentials (a token
	// as the password). They are never logged. Credentials in the URL
	// are used when these are empty.
	Username, Password string
	// SSHCommand is the ssh program and its options, one argument each
	// (nil: "ssh"). The host and the remote command are appended.
	SSHCommand []string
	// RemoteCmd is the hg program on the ssh server (default "hg").
	RemoteCmd string
	// Stderr receives the server's ssh stderr lines ("remote: ..."); nil
	// discards them (they are always drained).
	Stderr io.Writer
}

type httpTransport struct {
	client     *http.Client
	base       *url.URL // without query and credentials
	user, pass string
	caps       Caps
	display    string
}

// Dial connects to source (http://, https:// or ssh://) and reads its
// capabilities.
func Dial(ctx context.Context, source string, opts Options) (*Peer, error) {
	u, err := url.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("hgwire: source URL: %w", err)
	}
	var p *Peer
	switch u.Scheme {
	case "http", "https":
		p, err = dialHTTP(ctx, u, opts)
	case "ssh":
		p, err = dialSSH(ctx, u, opts)
	default:
		return nil, &UnsupportedError{What: "source scheme " + strconv.Quote(u.Scheme)}
	}
	if err != nil {
		return nil, err
	}
	p.redial = func(ctx context.Context) (*Peer, error) { return Dial(ctx, source, opts) }
	return p, nil
}

func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery, c.Fragment = "", ""
	return c.String()
}

func dialHTTP(ctx context.Context, u *url.URL, opts Options) (*Peer, error) {
	t := &httpTransport{client: opts.HTTPClient, user: opts.Username, pass: opts.Password}
	if t.client == nil {
		t.client = defaultClient
	}
	if t.user == "" && t.pass == "" && u.User != nil {
		t.user = u.User.Username()
		t.pass, _ = u.User.Password()
	}
	base := *u
	base.User, base.RawQuery, base.ForceQuery, base.Fragment = nil, "", false, ""
	t.base = &base
	t.display = redactURL(&base)
	p := &Peer{t: t, url: t.display}
	raw, err := t.capabilities(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.setCaps(raw); err != nil {
		return nil, err
	}
	t.caps = p.caps
	return p, nil
}

func (t *httpTransport) close() error { return nil }

// argHeaders is how many X-HgArg headers one request may use: hg serve
// (Python's http.server) answers 431 to a request of more than 100 header
// lines, and the others (Host, Accept, X-HgProto, Authorization, …) need
// some of them.
const argHeaders = 80

// maxQuery bounds the arguments sent in the query string, for a server
// that takes them neither in the body nor in headers (http.server refuses
// a request line over 64 KiB).
const maxQuery = 60 << 10

// argBudget: unbounded in the body (httppostargs), else what fits in
// argHeaders headers of the server's httpheader length, or in the query.
func (t *httpTransport) argBudget() int {
	switch {
	case t.caps.Has("httppostargs"):
		return 0
	case t.caps["httpheader"] != "":
		return argHeaders * headerChunk("X-HgArg", t.headerLimit())
	default:
		return maxQuery
	}
}

// maxHeaderLine is the longest header line hg serve reads (Python's
// http.client._MAXLINE, CRLF included). It answers 431 to a longer one,
// whatever its httpheader capability says (server.maxhttpheaderlen is not
// checked against it), and closes the connection before it has read the
// request, so that the client often sees only a broken pipe.
const maxHeaderLine = 65536

// headerLimit is the length of one X-Hg header the server takes (its
// httpheader capability, 1024 when it names none; at most maxHeaderLine).
func (t *httpTransport) headerLimit() int {
	if n, _ := strconv.Atoi(strings.SplitN(t.caps["httpheader"], ",", 2)[0]); n > 0 {
		return min(n, maxHeaderLine)
	}
	return 1024
}

// capabilities runs the handshake. A redirect moves the base URL; when it
// dropped the query (the answer is not a wire protocol one), it is retried
// against the new URL.
func (t *httpTransport) capabilities(ctx context.Context) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		resp, err := t.do(ctx, "capabilities", nil, false)
		if err != nil {
			return nil, err
		}
		final := resp.Request.URL
		moved := false
		if final != nil {
			nb := *final
			nb.RawQuery, nb.Fragment, nb.User = "", "", nil
			if strings.TrimRight(nb.String(), "/") != strings.TrimRight(t.base.String(), "/") {
				t.base, moved = &nb, true
				t.display = redactURL(&nb)
			}
		}
		ct := mediaType(resp)
		if ct != "application/mercurial-0.1" && moved && attempt == 0 {
			resp.Body.Close()
			continue
		}
		defer resp.Body.Close()
		if err := checkResponse(resp, t.display); err != nil {
			return nil, err
		}
		return readAnswer(resp.Body)
	}
}

func mediaType(resp *http.Response) string {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt
}

func readAnswer(r io.Reader) ([]byte, error) {
	b, err := limitio.ReadAll(r, maxAnswer)
	if err != nil {
		return nil, fmt.Errorf("hgwire: read answer: %w", err)
	}
	return b, nil
}

// checkResponse turns an HTTP error or an application/hg-error answer
// into an error, and refuses an answer that is not a wire protocol one.
func checkResponse(resp *http.Response, display string) error {
	mt := mediaType(resp)
	if mt == "application/hg-error" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return &RemoteError{Kind: "abort", Message: strings.TrimSpace(string(b))}
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		msg := strings.TrimSpace(string(b))
		if mt != "text/plain" {
			msg = ""
		}
		return &HTTPError{URL: display, Status: resp.StatusCode, Message: msg}
	}
	switch mt {
	case "application/mercurial-0.1", "application/mercurial-0.2", "application/hg-changegroup":
		return nil
	}
	return fmt.Errorf("hgwire: %s does not look like a Mercurial repository (answer of type %q)", display, resp.Header.Get("Content-Type"))
}

// HTTPError is an HTTP status other than 200.
type HTTPError struct {
	URL     string
	Status  int
	Message string
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("hgwire: %s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + limitio.Clip(e.Message, 200)
	}
	return s
}

// headerChunk is how many bytes of a value one name-N header of at most
// limit bytes carries.
func headerChunk(name string, limit int) int {
	return max(limit-len(name+"-000")-len(": \r\n"), 1)
}

// encodeInHeaders splits value over name-1..N headers of at most limit
// bytes each, name and separator included (httppeer's
// encodevalueinheaders).
func encodeInHeaders(h http.Header, name, value string, limit int) {
	chunk := headerChunk(name, limit)
	for i, n := 0, 1; i < len(value); i, n = i+chunk, n+1 {
		h[name+"-"+strconv.Itoa(n)] = []string{value[i:min(i+chunk, len(value))]}
	}
}

func (t *httpTransport) do(ctx context.Context, cmd string, args map[string]string, streamAnswer bool) (*http.Response, error) {
	q := url.Values{"cmd": {cmd}}
	h := http.Header{}
	var body []byte
	if len(args) > 0 {
		enc := encodeArgs(args)
		switch {
		case t.caps.Has("httppostargs"):
			body = []byte(enc)
			h.Set("X-HgArgs-Post", strconv.Itoa(len(enc)))
			h.Set("Content-Type", "application/mercurial-0.1")
		case t.caps["httpheader"] != "":
			encodeInHeaders(h, "X-HgArg", enc, t.headerLimit())
		default:
			for k, v := range args {
				q.Set(k, v)
			}
		}
	}
	if t.caps != nil {
		// Not "partial-pull": a pre-built bundle covering part of the
		// request would need pulling again, which Pull does not do.
		var params []string
		mts := t.caps.List("httpmediatype")
		if len(mts) > 0 {
			params = append(params, "0.1")
		}
		for _, m := range mts {
			if m == "0.2tx" {
				params = append(params, "0.2")
				if t.caps.Has("compression") {
					params = append(params, "comp=zstd,zlib,none")
				}
			}
		}
		sortStrings(params)
		if len(params) > 0 {
			encodeInHeaders(h, "X-HgProto", strings.Join(params, " "), t.headerLimit())
		}
	}
	var vary []string
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-hg") {
			vary = append(vary, k)
		}
	}
	if len(vary) > 0 {
		sortStrings(vary)
		h.Set("Vary", strings.Join(vary, ","))
	}
	u := *t.base
	u.RawQuery = q.Encode()
	method := http.MethodGet
	var rd io.Reader
	if body != nil {
		method, rd = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("hgwire: %w", err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/mercurial-0.1")
	req.Header.Set("User-Agent", "synchroniser (hgwire; like mercurial/proto-1.0)")
	if t.user != "" || t.pass != "" {
		req.SetBasicAuth(t.user, t.pass)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold credentials
		}
		return nil, fmt.Errorf("hgwire: %s %s: %w", cmd, t.display, err)
	}
	return resp, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (t *httpTransport) call(ctx context.Context, cmd string, args map[string]string) ([]byte, error) {
	resp, err := t.do(ctx, cmd, args, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := checkResponse(resp, t.display); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return readAnswer(resp.Body)
}

func (t *httpTransport) stream(ctx context.Context, cmd string, args map[string]string) (io.ReadCloser, error) {
	resp, err := t.do(ctx, cmd, args, true)
	if err != nil {
		return nil, err
	}
	if err := checkResponse(resp, t.display); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	switch mediaType(resp) {
	case "application/mercurial-0.2":
		return decodeMedia02(resp.Body)
	default: // 0.1: zlib-compressed
		zr, err := zlib.NewReader(resp.Body)
		if err != nil {
			resp.Body.Close()
			return nil, truncErr(cmd+" zlib stream", err)
		}
		return readCloser{zr, func() error { zr.Close(); return resp.Body.Close() }}, nil
	}
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// decodeMedia02 reads the application/mercurial-0.2 envelope: one byte of
// engine name length, the name, then the stream compressed with it.
func decodeMedia02(body io.ReadCloser) (io.ReadCloser, error) {
	var l [1]byte
	if _, err := io.ReadFull(body, l[:]); err != nil {
		body.Close()
		return nil, truncErr("compression envelope", err)
	}
	name := make([]byte, l[0])
	if _, err := io.ReadFull(body, name); err != nil {
		body.Close()
		return nil, truncErr("compression envelope", err)
	}
	switch string(name) {
	case "none":
		return body, nil
	case "zlib":
		zr, err := zlib.NewReader(body)
		if err != nil {
			body.Close()
			return nil, truncErr("zlib stream", err)
		}
		return readCloser{zr, func() error { zr.Close(); return body.Close() }}, nil
	case "zstd":
		zr, err := zstd.NewReader(body, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			body.Close()
			return nil, err
		}
		return readCloser{zr, func() error { zr.Close(); return body.Close() }}, nil
	}
	body.Close()
	return nil, &UnsupportedError{What: fmt.Sprintf("wire compression %q", name)}
}
