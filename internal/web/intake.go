package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hook"
	"github.com/synchroniser/synchroniser/internal/mirror"
)

// httpError is an answer to send: status and the text for {"error": ...}.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func serverError(format string, args ...any) *httpError {
	return &httpError{http.StatusInternalServerError, fmt.Sprintf(format, args...)}
}

// intake turns a parsed push into a mirror ready to queue: the source URL
// must pass the source policy, the push must resolve to a mirror, and the
// destination must accept the bot's pushes. user and project override the
// destination (legacy path form).
func (s *Server) intake(ctx context.Context, ev *hook.PushEvent, user, project string) (mirror.Mirror, *httpError) {
	if ev.CloneURL == "" {
		return mirror.Mirror{}, badRequest("the payload names no repository URL")
	}
	u, err := s.policy.Check(ctx, ev.CloneURL)
	if err != nil {
		return mirror.Mirror{}, badRequest("source URL refused: %v", err)
	}
	push := config.Push{SCM: ev.SCM, Repository: ev.Repository, Owner: ev.Owner, Name: ev.Name, CloneURL: u.String()}
	m, err := s.cfg.Resolve(push, user, project)
	if err != nil {
		return mirror.Mirror{}, badRequest("%v", err)
	}
	if ev.SCM != "" && m.SCM != ev.SCM {
		return mirror.Mirror{}, badRequest("repository %s is %s, but mirror %s expects %s", ev.Repository, ev.SCM, m.Name, m.SCM)
	}
	if err := s.pre.Preflight(ctx, m.Dest); err != nil {
		return mirror.Mirror{}, s.preflightError(m, err)
	}
	s.remember(m)
	return m, nil
}

// preflightError words a failed destination check for the sender.
func (s *Server) preflightError(m mirror.Mirror, err error) *httpError {
	d := m.Dest
	where := d.Owner + "/" + d.Project
	bot := s.cfg.Bot.Login
	if bot == "" {
		bot = "the bot"
	} else {
		bot = strconv.Quote(bot)
	}
	switch {
	case errors.Is(err, forge.ErrUserNotFound):
		return badRequest("destination user %q does not exist on %s", d.Owner, d.Forge)
	case errors.Is(err, forge.ErrRepoNotFound):
		return badRequest("destination repository %s does not exist on %s (or %s cannot see it)", where, d.Forge, bot)
	case errors.Is(err, forge.ErrNotCollaborator):
		return badRequest("%s is not a collaborator on %s: add it with write access", bot, where)
	case errors.Is(err, forge.ErrNoPush):
		return badRequest("%s may not push to %s: give it write access", bot, where)
	case errors.Is(err, ErrDestination):
		return badRequest("%v", err)
	}
	s.log.Error("destination check failed", "mirror", m.Name, "destination", d, "err", err)
	if d.Forge == forge.KindPlain {
		return serverError("cannot check destination %s: %v", d, err)
	}
	return serverError("cannot check destination %s on %s: %v", where, d.Forge, err)
}

// LsRemoter lists a Git remote's refs (git.Runner does).
type LsRemoter interface {
	LsRemote(ctx context.Context, remote string) (map[string]git.Hash, error)
}

// LsRemoterFunc gives the LsRemoter that reaches a destination (with its
// credentials).
type LsRemoterFunc func(d mirror.Destination) LsRemoter

// DefaultPreflight checks forge destinations through their API (forge.New,
// with the configured bot and the destination's token) and plain Git
// destinations with ls-remote (skipped when ls is nil).
//
// A destination that passed is not asked again for PreflightTTL: a burst of
// webhooks for one mirror costs one API round trip or ls-remote, not one
// each (an ls-remote is three processes). Failures are never remembered, so
// a fixed destination is seen at once; a destination that breaks within the
// TTL fails in the worker instead, where the error is recorded.
func DefaultPreflight(cfg *config.Config, ls LsRemoterFunc) Preflighter {
	return &preflight{cfg: cfg, ls: ls, checkers: map[string]forge.Checker{},
		passed: map[string]time.Time{}, ttl: PreflightTTL, now: time.Now}
}

// PreflightTTL is how long DefaultPreflight trusts a destination that passed.
const PreflightTTL = time.Minute

type preflight struct {
	cfg *config.Config
	ls  LsRemoterFunc
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	checkers map[string]forge.Checker // by forge, API URL and token digest
	passed   map[string]time.Time     // destination key → when it last passed
}

// destinationKey names a destination with its credentials' digest, so that a
// new token is checked afresh.
func destinationKey(d mirror.Destination) string {
	sum := sha256.Sum256([]byte(d.Token))
	return strings.Join([]string{string(d.Forge), d.APIURL, d.URL, d.Owner, d.Project, hex.EncodeToString(sum[:])}, "\x00")
}

func (p *preflight) Preflight(ctx context.Context, d mirror.Destination) error {
	key := destinationKey(d)
	p.mu.Lock()
	at, ok := p.passed[key]
	p.mu.Unlock()
	if ok && p.now().Sub(at) < p.ttl {
		return nil
	}
	if err := p.check(ctx, d); err != nil {
		return err
	}
	p.mu.Lock()
	now := p.now()
	for k, t := range p.passed { // keep the map as small as the set of live destinations
		if now.Sub(t) >= p.ttl {
			delete(p.passed, k)
		}
	}
	p.passed[key] = now
	p.mu.Unlock()
	return nil
}

func (p *preflight) check(ctx context.Context, d mirror.Destination) error {
	if d.Forge == forge.KindPlain {
		if p.ls == nil {
			return nil
		}
		if _, err := p.ls(d).LsRemote(ctx, d.URL); err != nil {
			var ee *exec.Error
			if errors.As(err, &ee) {
				return err // git itself is missing: a server fault
			}
			return fmt.Errorf("%w: %s is not a reachable Git repository: %v", ErrDestination, d, err)
		}
		return nil
	}
	chk, err := p.checker(d)
	if err != nil {
		return err
	}
	return chk.Preflight(ctx, d.Owner, d.Project)
}

func (p *preflight) checker(d mirror.Destination) (forge.Checker, error) {
	sum := sha256.Sum256([]byte(d.Token))
	key := string(d.Forge) + "\x00" + d.APIURL + "\x00" + hex.EncodeToString(sum[:])
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.checkers[key]; ok {
		return c, nil
	}
	fc := forge.Config{BaseURL: d.APIURL, Token: d.Token, Bot: p.cfg.Bot.Login}
	if app := p.cfg.Destination.App; d.Token == "" && app.Enabled() && d.Forge == forge.KindGitHub {
		pem, err := os.ReadFile(app.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("github app: %w", err)
		}
		fc.Tokens = &forge.GitHubAppTokenSource{AppID: app.ID, InstallationID: app.InstallationID, PrivateKeyPEM: pem, BaseURL: d.APIURL}
	}
	c, err := forge.New(d.Forge, fc)
	if err != nil {
		return nil, err
	}
	p.checkers[key] = c
	return c, nil
}
