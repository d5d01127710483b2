package hook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/synchroniser/synchroniser/internal/limitio"
	"github.com/synchroniser/synchroniser/internal/urlcheck"
)

// start checks what every provider checks before reading the body: enabled,
// POST, no content encoding.
func start(provider string, r *http.Request, cfg Config) error {
	if !cfg.Enabled {
		return errorf(http.StatusNotFound, nil, "webhook provider %q is not enabled", provider)
	}
	if r.Method != http.MethodPost {
		return errorf(http.StatusMethodNotAllowed, nil, "webhook must be POSTed, not %s", r.Method)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return errorf(http.StatusUnsupportedMediaType, nil, "unsupported Content-Encoding %q", ce)
	}
	return nil
}

// readBody reads the whole body, refusing more than limit bytes with 413.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, nil, "body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	data, err := limitio.ReadAll(r.Body, limit)
	var tooLarge *http.MaxBytesError // a limit set by the caller's http.MaxBytesReader
	var over *limitio.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errorf(http.StatusRequestEntityTooLarge, nil, "body exceeds the limit of %d bytes", tooLarge.Limit)
	case errors.As(err, &over):
		return nil, errorf(http.StatusRequestEntityTooLarge, nil, "body exceeds the limit of %d bytes", over.Limit)
	case err != nil:
		return nil, errorf(http.StatusBadRequest, err, "read body")
	}
	return data, nil
}

// mediaType returns the request's media type, lower case, "" when absent.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", errorf(http.StatusUnsupportedMediaType, err, "malformed Content-Type %q", limitio.Clip(ct, 100))
	}
	return mt, nil
}

const formType = "application/x-www-form-urlencoded"

func isJSONType(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// jsonBody returns the JSON document of a request whose body is JSON or,
// when allowForm, a form with the JSON in the field "payload" (GitHub and
// Gitea offer both). Other content types are refused with 415.
func jsonBody(r *http.Request, body []byte, allowForm bool) ([]byte, error) {
	mt, err := mediaType(r)
	if err != nil {
		return nil, err
	}
	switch {
	case mt == "" || isJSONType(mt):
		return body, nil
	case mt == formType && allowForm:
		return formPayload(body)
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, nil, "unsupported Content-Type %q: expected application/json", mt)
	}
}

// formPayload returns the "payload" field of a urlencoded form.
func formPayload(body []byte) ([]byte, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, err, "malformed form encoding")
	}
	if !vals.Has("payload") {
		return nil, errorf(http.StatusBadRequest, nil, `no JSON payload: form has no "payload" field`)
	}
	p := vals.Get("payload")
	if strings.TrimSpace(p) == "" {
		return nil, errorf(http.StatusBadRequest, nil, "no JSON payload")
	}
	return []byte(p), nil
}

// decodePayload decodes the JSON document of a delivery (see jsonBody)
// into v, within cfg's nesting depth.
func decodePayload(r *http.Request, body []byte, allowForm bool, cfg Config, v any) error {
	doc, err := jsonBody(r, body, allowForm)
	if err != nil {
		return err
	}
	return decodeJSON(doc, v, cfg.maxDepth())
}

// needRepository answers a payload without a "repository" (present is
// false) or whose repository has no full name (fullName is only called
// when present).
func needRepository(present bool, fullName func() string) error {
	if !present {
		return errorf(http.StatusBadRequest, nil, `JSON payload has no "repository" field`)
	}
	if fullName() == "" {
		return errorf(http.StatusBadRequest, nil, `JSON payload has no "repository.full_name" field`)
	}
	return nil
}

// sortEvent sorts a delivery by the event in its header: one of push goes
// on (nil), ping (when not "") answers ErrPing, anything else ErrIgnored.
func sortEvent(provider, header, event, ping string, push ...string) error {
	switch {
	case event == "":
		return errorf(http.StatusBadRequest, nil, "missing %s header", header)
	case slices.Contains(push, event):
		return nil
	case ping != "" && event == ping:
		return ErrPing
	}
	return fmt.Errorf("%s event %q: %w", provider, limitio.Clip(event, 64), ErrIgnored)
}

// decodeJSON checks nesting depth, then decodes doc into v.
func decodeJSON(doc []byte, v any, maxDepth int) error {
	if len(bytes.TrimSpace(doc)) == 0 {
		return errorf(http.StatusBadRequest, nil, "no JSON payload")
	}
	if err := checkDepth(doc, maxDepth); err != nil {
		return errorf(http.StatusBadRequest, err, "invalid JSON payload")
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return errorf(http.StatusBadRequest, err, "invalid JSON payload")
	}
	return nil
}

// checkDepth refuses JSON nested deeper than max before it is decoded, so
// that a hostile body costs no more than a scan.
func checkDepth(doc []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for i, c := range doc {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return fmt.Errorf("nested deeper than %d levels at offset %d", max, i)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// receive starts a delivery (start), runs in order the checks that need
// no body (a token, the event header), then reads the body. Every provider
// takes its body here, so none reads one it has not yet authenticated by
// what the headers or URL allow.
func receive(provider string, r *http.Request, cfg Config, checks ...func() error) ([]byte, error) {
	if err := start(provider, r, cfg); err != nil {
		return nil, err
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return readBody(r, cfg.maxBody())
}

// tokenCheck is a receive check: when cfg.Secret is set, got (from what)
// must equal it.
func tokenCheck(cfg Config, got func() string, what string) func() error {
	return func() error {
		if cfg.Secret == "" {
			return nil
		}
		return checkToken(cfg.Secret, got(), what)
	}
}

// readSigned receives a delivery signed as GitHub signs: when cfg.Secret is
// set, the "sha256=<hex HMAC-SHA256>" of its body in sigHeader must match.
// Then, and only then, it is sorted by the event in eventHeader (sortEvent
// with ping and push), so that an unsigned request learns nothing of which
// events are taken.
func readSigned(provider string, r *http.Request, cfg Config, sigHeader, eventHeader, ping string, push ...string) ([]byte, error) {
	body, err := receive(provider, r, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Secret != "" {
		if err := checkHMAC(cfg.Secret, body, sigHeader, r.Header.Get(sigHeader), "sha256="); err != nil {
			return nil, err
		}
	}
	if err := sortEvent(provider, eventHeader, r.Header.Get(eventHeader), ping, push...); err != nil {
		return nil, err
	}
	return body, nil
}

// checkHMAC verifies a hex HMAC-SHA256 of body, with an optional prefix
// such as "sha256=". header names the header, for messages.
func checkHMAC(secret string, body []byte, header, got, prefix string) error {
	if got == "" {
		return errorf(http.StatusUnauthorized, nil, "missing signature header %s", header)
	}
	if prefix != "" {
		if !strings.HasPrefix(got, prefix) {
			return errorf(http.StatusUnauthorized, nil, "signature header %s must start with %q", header, prefix)
		}
		got = got[len(prefix):]
	}
	sig, err := hex.DecodeString(strings.TrimSpace(got))
	if err != nil || len(sig) != sha256.Size {
		return errorf(http.StatusUnauthorized, nil, "malformed signature in %s", header)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return errorf(http.StatusUnauthorized, nil, "signature in %s does not match", header)
	}
	return nil
}

// checkToken compares a shared token in constant time (hashing first so that
// not even the length leaks).
func checkToken(want, got, what string) error {
	if got == "" {
		return errorf(http.StatusUnauthorized, nil, "missing %s", what)
	}
	w, g := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	if !hmac.Equal(w[:], g[:]) {
		return errorf(http.StatusUnauthorized, nil, "wrong %s", what)
	}
	return nil
}

// firstHeader returns the first non-empty value among the named headers.
func firstHeader(r *http.Request, names ...string) (name, value string) {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return n, v
		}
	}
	return "", ""
}

// firstValue returns the first non-empty value among the named headers.
func firstValue(r *http.Request, names ...string) string {
	_, v := firstHeader(r, names...)
	return v
}

// userName is a user given as a string ("marcus") or as an object with
// "username", "nickname", "login", "name" or "display_name", the first
// one present (Bitbucket Cloud, Gitea, later legacy payloads).
type userName string

func (u *userName) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*u = userName(s)
		return nil
	}
	var o struct {
		Username, Nickname, Login, Name string
		DisplayName                     string `json:"display_name"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	for _, s := range []string{o.Username, o.Nickname, o.Login, o.Name, o.DisplayName} {
		if s != "" {
			*u = userName(s)
			break
		}
	}
	return nil
}

// maxField bounds names and ids taken from payloads and headers.
const maxField = 512

// cleanField refuses control characters, invalid UTF-8 and over-long values.
func cleanField(field, v string) error {
	if len(v) > maxField {
		return errorf(http.StatusBadRequest, nil, "%s is longer than %d bytes", field, maxField)
	}
	if !utf8.ValidString(v) {
		return errorf(http.StatusBadRequest, nil, "%s is not valid UTF-8", field)
	}
	for _, c := range v {
		if unicode.IsControl(c) {
			return errorf(http.StatusBadRequest, nil, "%s contains control character %U", field, c)
		}
	}
	return nil
}

// cleanName checks a repository name or full name: clean, and no path
// segment begins with "-" (it could become an option of hg, git or ssh).
func cleanName(field, v string) error {
	if err := cleanField(field, v); err != nil {
		return err
	}
	for _, seg := range strings.Split(v, "/") {
		if strings.HasPrefix(strings.TrimSpace(seg), "-") {
			return errorf(http.StatusBadRequest, nil, "%s %q has a part beginning with \"-\"", field, limitio.Clip(v, 100))
		}
		if seg == ".." {
			return errorf(http.StatusBadRequest, nil, "%s %q has a \"..\" part", field, limitio.Clip(v, 100))
		}
	}
	return nil
}

// syntax is the policy payload clone URLs must pass here: the syntax rules of
// urlcheck, without a host allowlist or DNS (the caller applies its own).
var syntax = urlcheck.Policy{Schemes: []string{"https", "http", "ssh"}, AllowPrivate: true}

// finish validates an event built by a parser and fills derived fields.
func finish(ev *PushEvent, r *http.Request, cfg Config) (*PushEvent, error) {
	if cfg.SCM != "" {
		ev.SCM = cfg.SCM
	}
	if ev.Repository == "" && ev.Owner != "" && ev.Name != "" {
		ev.Repository = ev.Owner + "/" + ev.Name
	}
	if ev.Name == "" && ev.Repository != "" {
		ev.Name = ev.Repository[strings.LastIndexByte(ev.Repository, '/')+1:]
	}
	if ev.Owner == "" {
		if i := strings.IndexByte(ev.Repository, '/'); i > 0 {
			ev.Owner = ev.Repository[:i]
		}
	}
	if ev.Repository == "" && ev.CloneURL == "" {
		return nil, errorf(http.StatusBadRequest, nil, "payload names no repository")
	}
	for _, f := range []struct{ name, v string }{
		{"repository", ev.Repository}, {"repository owner", ev.Owner}, {"repository name", ev.Name},
	} {
		if err := cleanName(f.name, f.v); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct{ name, v string }{{"delivery id", ev.DeliveryID}, {"node", ev.Node}, {"pusher", ev.Pusher}} {
		if err := cleanField(f.name, f.v); err != nil {
			return nil, err
		}
	}
	for _, ref := range ev.Refs {
		if err := cleanName("ref", ref); err != nil {
			return nil, err
		}
	}
	if ev.CloneURL != "" {
		if _, err := syntax.Check(r.Context(), ev.CloneURL); err != nil {
			return nil, errorf(http.StatusBadRequest, err, "invalid repository URL in payload")
		}
	}
	if ev.Commits < 0 {
		ev.Commits = 0
	}
	return ev, nil
}

// maxRefs bounds the refs kept from one event.
const maxRefs = 1000

// addRef appends ref unless it is empty, already present, or refs are full.
func addRef(refs []string, ref string) []string {
	if ref == "" || len(refs) >= maxRefs {
		return refs
	}
	for _, r := range refs {
		if r == ref {
			return refs
		}
	}
	return append(refs, ref)
}

// isHex reports whether s has min to max hex digits and nothing else.
func isHex(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// isHexNode reports a full 40-digit hex node or commit id.
func isHexNode(s string) bool { return isHex(s, 40, 40) }

// headNode returns id when it is a 40-hex id other than the all-zero one
// (a deleted ref), else "".
func headNode(id string) string {
	if !isHexNode(id) || strings.Trim(id, "0") == "" {
		return ""
	}
	return id
}
