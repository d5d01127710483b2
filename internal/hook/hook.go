// Package hook turns webhook requests from source forges into PushEvents.
//
// There is one parser per provider (one file each): the legacy Bitbucket POST
// service, Bitbucket Cloud 2.0, GitHub, GitLab and Heptapod, Gitea/Forgejo/Gogs
// and a generic endpoint for self-hosted Mercurial servers. Every parser reads
// at most Config.MaxBody bytes, authenticates the request when a secret is
// configured, and returns either a *PushEvent or an error that says what the
// caller should answer:
//
//   - ErrIgnored (and ErrPing, which wraps it): not a push; answer 202 "ignored".
//   - *Error: the request cannot be served; answer Error.Status with Error.Msg
//     (400 bad payload, 401 bad or missing signature/token, 404 provider
//     disabled or unknown, 405 wrong method, 413 body too large, 415 wrong
//     content type).
//
// StatusOf maps any error returned here to the HTTP status to answer.
//
// A PushEvent's CloneURL comes from the (authenticated, but still untrusted)
// payload: it has passed a syntax check (no transport helpers, no leading
// dashes, no credentials, no control characters) but not the deployment's
// host allowlist or address policy; callers check it with urlcheck.Policy.
package hook

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/synchroniser/synchroniser/internal/scm"
)

// PushEvent is what a push webhook says happened. Contract: see
// brief/CONTRACTS.md; fields may be added, never renamed.
type PushEvent struct {
	Provider   string   // "bitbucket-legacy", "bitbucket", "github", "gitlab", "heptapod", "gitea", "forgejo", "gogs", "generic"
	DeliveryID string   // provider's delivery id ("" if none)
	SCM        scm.Kind // scm.Hg, scm.Git or "" (unknown)
	Repository string   // provider's full name, e.g. "owner/slug"
	Owner      string   // owner, workspace or namespace ("" if unknown)
	Name       string   // repository name or slug
	CloneURL   string   // source URL from the payload (to be checked by urlcheck)
	Refs       []string // refs pushed, when known: full Git ref names ("refs/heads/main"); for Mercurial payloads, named branches or bookmarks as the payload gives them
	Commits    int      // number of commits the payload reports
	Private    bool     // repository is private (or internal) on the provider

	// Added beyond the contract:
	Node   string // head changeset or commit the payload names (hex: 40 digits; 12 to 40 from the generic endpoint), "" if none
	Pusher string // user who pushed, as the provider names them ("" if unknown)
}

// ErrIgnored reports an event that is not a push (an issue, a comment, a
// ping). The caller answers 202 "ignored". Errors wrapping it say which event.
var ErrIgnored = errors.New("event ignored: not a push")

// ErrPing is the "ping" a forge sends when a webhook is created (GitHub's
// "ping" event, Bitbucket's "diagnostics:ping"; Gitea's test delivery is a
// real push). It wraps ErrIgnored, so
// errors.Is(err, ErrIgnored) holds; a caller that wants to answer pings with
// 200 tests for ErrPing first.
var ErrPing = fmt.Errorf("ping: %w", ErrIgnored)

// Error is a request that cannot be served, with the HTTP status to answer.
// Msg is safe to show to the sender; it never contains a secret.
type Error struct {
	Status int    // HTTP status: 400, 401, 404, 405, 413, 415
	Msg    string // what went wrong, for the sender
	Err    error  // underlying cause, may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// StatusOf returns the HTTP status a caller should answer for err as returned
// by a parser: 200 for nil, 202 for ErrIgnored (and ErrPing), Error.Status for
// an *Error, and 500 for anything else.
func StatusOf(err error) int {
	var he *Error
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrIgnored):
		return http.StatusAccepted
	case errors.As(err, &he):
		return he.Status
	default:
		return http.StatusInternalServerError
	}
}

func errorf(status int, err error, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...), Err: err}
}

// DefaultMaxBody is the body size limit when Config.MaxBody is zero.
const DefaultMaxBody = 1 << 20

// DefaultMaxDepth is the JSON nesting limit when Config.MaxDepth is zero.
const DefaultMaxDepth = 64

// Config configures one provider. The zero value is a disabled provider.
type Config struct {
	// Enabled must be true: a disabled provider answers 404.
	Enabled bool
	// Secret authenticates deliveries. For signing providers (GitHub,
	// Bitbucket Cloud, Gitea/Forgejo/Gogs) it is the HMAC-SHA256 key, and
	// when it is empty signatures are not checked. For GitLab and Heptapod it
	// is the X-Gitlab-Token, for the generic endpoint the bearer token (which
	// the generic endpoint requires), for the legacy Bitbucket service the
	// value of the URL query parameter "token" (Bitbucket could not sign;
	// the caller must keep that query out of its access logs).
	Secret string
	// MaxBody is the largest body accepted, in bytes (0 = DefaultMaxBody);
	// larger bodies are refused with 413.
	MaxBody int64
	// MaxDepth is the deepest JSON nesting accepted (0 = DefaultMaxDepth).
	MaxDepth int
	// SCM, when set (scm.Hg or scm.Git), is reported for every event
	// instead of what the payload says or the provider implies.
	SCM scm.Kind
}

func (c Config) maxBody() int64 {
	if c.MaxBody > 0 {
		return c.MaxBody
	}
	return DefaultMaxBody
}

func (c Config) maxDepth() int {
	if c.MaxDepth > 0 {
		return c.MaxDepth
	}
	return DefaultMaxDepth
}

// Parser turns a request into a PushEvent or an error (see the package doc).
type Parser func(r *http.Request, cfg Config) (*PushEvent, error)

var registry = map[string]Parser{
	"bitbucket-legacy": ParseBitbucketLegacy,
	"bitbucket":        ParseBitbucket,
	"github":           ParseGitHub,
	"gitlab":           ParseGitLab,
	"heptapod":         ParseHeptapod,
	"gitea":            ParseGitea,
	"forgejo":          ParseForgejo,
	"gogs":             ParseGogs,
	"generic":          ParseGeneric,
}

// Providers returns the names of all providers, sorted.
func Providers() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup returns the parser registered for a provider name.
func Lookup(name string) (Parser, bool) {
	p, ok := registry[name]
	return p, ok
}

// Parse runs the named provider's parser: the web layer routes
// /hooks/{provider} here. An unknown provider is an *Error with status 404.
func Parse(provider string, r *http.Request, cfg Config) (*PushEvent, error) {
	p, ok := registry[provider]
	if !ok {
		return nil, errorf(http.StatusNotFound, nil, "unknown webhook provider %q", provider)
	}
	return p(r, cfg)
}

// CheckSCM returns nil when the event's SCM is one of allowed, and otherwise
// an *Error with status 400 saying which SCM the repository uses. The
// seed-compatible /synchronise/ endpoint calls ev.CheckSCM(scm.Hg); an
// event whose SCM is unknown ("") is refused too, unless "" is allowed.
func (e *PushEvent) CheckSCM(allowed ...scm.Kind) error {
	if slices.Contains(allowed, e.SCM) {
		return nil
	}
	kind := e.SCM
	if kind == "" {
		kind = "unknown"
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return errorf(http.StatusBadRequest, nil, "repository %s has scm %q; accepted: %s", e.Repository, kind, strings.Join(names, ", "))
}
