// Package forge checks, before a sync is queued, that a destination on a
// forge (GitHub, GitLab, Gitea/Forgejo) exists and that the bot account may
// push to it.
//
// Preflight errors fall in three groups, which callers map to HTTP answers:
// the request named something that cannot be served (IsBadRequest: the
// owner or project does not exist, the bot is not a collaborator or may not
// push → 400); the forge refused our credentials (ErrAuth: a configuration
// fault, permanent → 500); the forge could not be reached or failed
// (ErrUnavailable, IsTransient → 500, retry later).
//
// A checker is built from a Config, e.g. for a mirror.Destination d:
//
//	c, err := forge.New(d.Forge, forge.Config{BaseURL: d.APIURL, Token: d.Token, Bot: "synchro-bot"})
//	...
//	err = c.Preflight(ctx, d.Owner, d.Project)
//	if forge.IsBadRequest(err) { /* 400 */ } else if err != nil { /* 500 */ }
//
// For a GitHub App, set Config.Tokens to a *GitHubAppTokenSource; the same
// source gives the password for git pushes (user "x-access-token").
package forge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Checker checks that owner/project exists on a forge and that the bot may
// push to it.
type Checker interface {
	Preflight(ctx context.Context, owner, project string) error
}

// Sentinel errors returned (wrapped in *Error) by Preflight.
var (
	// ErrUserNotFound: the owner (user, organisation or group) does not exist.
	ErrUserNotFound = errors.New("user or organisation not found")
	// ErrRepoNotFound: the owner exists but the project does not (or the
	// bot cannot see it).
	ErrRepoNotFound = errors.New("repository not found")
	// ErrNotCollaborator: the bot has no role on the project.
	ErrNotCollaborator = errors.New("bot is not a collaborator")
	// ErrNoPush: the bot is a collaborator without push (write) access.
	ErrNoPush = errors.New("bot may not push")
	// ErrAuth: the forge refused the token (401). Permanent: the
	// configuration must be fixed; a server fault, not the request's.
	ErrAuth = errors.New("token refused")
	// ErrUnavailable: the forge could not be reached, timed out, was rate
	// limited or answered 5xx. Transient.
	ErrUnavailable = errors.New("forge unavailable")
)

// DefaultTimeout bounds one Preflight when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// errUnexpected marks an answer the checker does not understand (an
// unexpected status, a malformed body): a server fault, not transient.
var errUnexpected = errors.New("unexpected answer")

// Error is the error Preflight returns. It names the forge and the
// destination; it never contains a token.
type Error struct {
	Forge   Kind // KindGitHub, KindGitLab or KindGitea
	Owner   string
	Project string
	Err     error  // one of the sentinels above, or an unexpected-answer error
	Detail  string // what was asked or answered, e.g. `bot "x" has permission "read"`
	Cause   error  // the underlying error, if any (transport, API error)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Forge))
	b.WriteString(": ")
	b.WriteString(e.Owner)
	if e.Project != "" {
		b.WriteString("/")
		b.WriteString(e.Project)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel and the cause, so errors.Is works with both
// (e.g. ErrUnavailable and context.DeadlineExceeded).
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// IsBadRequest reports whether err says the destination cannot be served
// because of the request: owner or project missing, bot not a collaborator
// or without push access. Anything else is a server-side fault.
func IsBadRequest(err error) bool {
	return errors.Is(err, ErrUserNotFound) || errors.Is(err, ErrRepoNotFound) ||
		errors.Is(err, ErrNotCollaborator) || errors.Is(err, ErrNoPush)
}

// IsTransient reports whether err may go away by itself: the forge was
// unreachable, too slow, rate limiting or failing (5xx).
func IsTransient(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// TokenSource gives the token to present to the forge; it may mint and
// cache short-lived tokens (see GitHubAppTokenSource).
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a TokenSource that always returns the same token.
type StaticToken string

// Token returns the token.
func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }

// Config configures a checker.
type Config struct {
	// BaseURL is the API root. Empty means the public service:
	// https://api.github.com/ or https://gitlab.com/. GitHub Enterprise:
	// https://host/api/v3/ (used as given). GitLab: the server root or its
	// /api/v4/ root. Gitea/Forgejo: the server root (required), the SDK
	// adds /api/v1.
	BaseURL string
	// Token authenticates the bot. Secret: never logged or put in errors.
	Token string
	// Tokens, when set, is used instead of Token (GitHub App installations).
	Tokens TokenSource
	// Bot is the login of the account that pushes. Empty means the token's
	// own user (GET /user), fetched once.
	Bot string
	// Timeout bounds one Preflight; 0 means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient carries the requests; nil means a new client with its own
	// transport. Its Timeout, if any, also applies.
	HTTPClient *http.Client
	// Logger receives debug records (never the token); nil discards.
	Logger *slog.Logger
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

func (c Config) tokens() TokenSource {
	if c.Tokens != nil {
		return c.Tokens
	}
	return StaticToken(c.Token)
}

// Kind names a destination forge. It is a string type: configuration and
// JSON keep the spelling of the constants.
type Kind string

// Forges a destination may be on. Heptapod has GitLab's API, Forgejo
// Gitea's.
const (
	KindPlain    Kind = "" // a plain Git URL: no forge API, an ls-remote check only
	KindGitHub   Kind = "github"
	KindGitLab   Kind = "gitlab"
	KindGitea    Kind = "gitea"
	KindHeptapod Kind = "heptapod"
	KindForgejo  Kind = "forgejo"
)

// New returns the checker for a forge kind: KindGitHub, KindGitLab (or
// KindHeptapod), KindGitea (or KindForgejo), in any case.
func New(kind Kind, cfg Config) (Checker, error) {
	switch Kind(strings.ToLower(string(kind))) {
	case KindGitHub:
		return NewGitHub(cfg)
	case KindGitLab, KindHeptapod:
		return NewGitLab(cfg)
	case KindGitea, KindForgejo:
		return NewGitea(cfg)
	}
	return nil, fmt.Errorf("forge: unknown forge %q (want github, gitlab, gitea or forgejo)", kind)
}

// redact returns err, or an error with the same chain whose message has the
// secret replaced, when the message would leak it.
// logPreflight records the outcome at debug level. The error never holds a
// token, so it may be logged.
// failFunc builds the *Error of one preflight from a sentinel and a detail.
type failFunc func(sentinel error, detail string) error

// runPreflight runs one forge's check with what every forge shares: owner and
// project names validated before any request, the timeout, the *Error
// constructor, and one debug log line with the outcome.
func (c Config) runPreflight(ctx context.Context, forge Kind, owner, project string, ownerRE *regexp.Regexp,
	check func(ctx context.Context, owner, project string, fail failFunc) error) error {
	start := time.Now()
	err := validNames(forge, owner, project, ownerRE)
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, c.timeout())
		err = check(cctx, owner, project, func(sentinel error, detail string) error {
			return &Error{Forge: forge, Owner: owner, Project: project, Err: sentinel, Detail: detail}
		})
		cancel()
	}
	logPreflight(ctx, c.logger(), forge, owner, project, start, err)
	return err
}

func logPreflight(ctx context.Context, l *slog.Logger, forge Kind, owner, project string, start time.Time, err error) {
	attrs := []slog.Attr{
		slog.String("forge", string(forge)), slog.String("owner", owner), slog.String("project", project),
		slog.Duration("elapsed", time.Since(start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()), slog.Bool("bad_request", IsBadRequest(err)))
	}
	l.LogAttrs(ctx, slog.LevelDebug, "forge preflight", attrs...)
}

// isNetwork reports whether err comes from the transport: the forge could
// not be reached or did not answer in time.
// faultKind classifies a failed API call by its HTTP status (0 when there
// was no answer): a refused token, a forge that is down or rate-limiting
// (limited), an unreachable one, or anything else.
func faultKind(status int, limited bool, err error) error {
	switch {
	case status == http.StatusUnauthorized:
		return ErrAuth
	case limited || status == http.StatusTooManyRequests || status >= 500:
		return ErrUnavailable
	case status == 0 && isNetwork(err):
		return ErrUnavailable
	}
	return errUnexpected
}

func isNetwork(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, io.ErrUnexpectedEOF)
}

func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), secret, "[REDACTED]"), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }

// Unwrap keeps errors.Is/As working (context errors, net errors); the
// inner message is not shown by Error.
func (r *redacted) Unwrap() error { return r.err }
