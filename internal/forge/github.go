package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-github/v82/github"
)

// GitHub checks destinations on GitHub or GitHub Enterprise Server.
type GitHub struct {
	cfg    Config
	client *github.Client

	mu    sync.Mutex
	login string // the token's user, once known
}

// NewGitHub returns a GitHub checker. cfg.BaseURL defaults to
// https://api.github.com/; for GitHub Enterprise give https://host/api/v3/.
// With cfg.Tokens set to a *GitHubAppTokenSource the checker acts as the
// app installation, which is then the pusher: cfg.Bot is ignored.
func NewGitHub(cfg Config) (*GitHub, error) {
	hc := *cfg.httpClient()
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &authTransport{base: base, tokens: cfg.tokens(), scheme: "Bearer"}
	c := github.NewClient(&hc)
	if cfg.BaseURL != "" {
		u, err := parseBaseURL(cfg.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("forge: github: %w", err)
		}
		c.BaseURL = u
	}
	return &GitHub{cfg: cfg, client: c}, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("base URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host/...", raw)
	}
	if u.User != nil {
		return nil, errors.New("base URL must not contain credentials")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// authTransport adds the token from a TokenSource to each request.
type authTransport struct {
	base   http.RoundTripper
	tokens TokenSource
	scheme string
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.tokens.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &tokenError{err}
	}
	if tok != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", t.scheme+" "+tok)
	}
	return t.base.RoundTrip(req)
}

// Names are checked only for what could escape an API path ("..", "/",
// "?", "%"); the forge itself says whether a well-formed name exists.
var (
	ownerRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]+(?:\[bot\])?$`)
	repoNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// validNames rejects names that could not exist on a forge and would
// otherwise be pasted into API paths.
func validNames(forge Kind, owner, project string, ownerRE *regexp.Regexp) error {
	if len(owner) > 255 || !ownerRE.MatchString(owner) || owner == "." || owner == ".." ||
		strings.Contains(owner, "..") && strings.Contains(owner, "/") {
		return &Error{Forge: forge, Owner: owner, Project: project, Err: ErrUserNotFound, Detail: "invalid owner name"}
	}
	if len(project) > 255 || !repoNameRE.MatchString(project) || project == "." || project == ".." {
		return &Error{Forge: forge, Owner: owner, Project: project, Err: ErrRepoNotFound, Detail: "invalid project name"}
	}
	return nil
}

// Preflight checks that owner/project exists on GitHub and that the bot may
// push to it. With Config.Bot empty the bot is the token's own account and
// one request (GET /repos/{owner}/{repo}) usually suffices; otherwise the
// bot's permission is asked for
// (GET /repos/{owner}/{repo}/collaborators/{bot}/permission).
func (g *GitHub) Preflight(ctx context.Context, owner, project string) error {
	return g.cfg.runPreflight(ctx, KindGitHub, owner, project, ownerRE, g.preflight)
}

func (g *GitHub) preflight(ctx context.Context, owner, project string, fail failFunc) error {

	repo, _, err := g.client.Repositories.Get(ctx, owner, project)
	if err != nil {
		if githubStatus(err) != http.StatusNotFound {
			return g.fault(owner, project, "get repository", err)
		}
		// Owner missing, or the repository missing (or hidden from the bot).
		if _, _, uerr := g.client.Users.Get(ctx, owner); uerr != nil {
			if githubStatus(uerr) == http.StatusNotFound {
				return fail(ErrUserNotFound, "")
			}
			return g.fault(owner, project, "get user", uerr)
		}
		return fail(ErrRepoNotFound, "")
	}

	if repo.GetArchived() {
		return fail(ErrNoPush, "the repository is archived (read-only)")
	}
	if p := repo.GetPermissions(); p != nil && g.botIsToken(ctx) {
		// The token's account is the bot: the repository tells its role.
		switch {
		case p.GetAdmin() || p.GetMaintain() || p.GetPush():
			return nil
		case p.GetTriage() || (p.GetPull() && repo.GetPrivate()):
			return fail(ErrNoPush, g.botName(ctx)+" has read access only")
		default:
			// Everyone may pull a public repository: a read-only
			// collaborator looks the same from the bot's side.
			return fail(ErrNotCollaborator, g.botName(ctx)+" has no role on the repository beyond public read access")
		}
	}
	if src, ok := g.cfg.Tokens.(*GitHubAppTokenSource); ok {
		// No permissions in the answer: fall back on what the installation
		// token was granted.
		if c := src.Permissions()["contents"]; c != "write" {
			return fail(ErrNoPush, fmt.Sprintf("the app installation has contents permission %q, needs write", c))
		}
		return nil
	}
	return g.checkPermission(ctx, owner, project)
}

// checkPermission asks for the bot's permission on owner/project.
func (g *GitHub) checkPermission(ctx context.Context, owner, project string) error {
	fail := func(sentinel error, detail string) error {
		return &Error{Forge: KindGitHub, Owner: owner, Project: project, Err: sentinel, Detail: detail}
	}
	bot := g.cfg.Bot
	if bot == "" {
		login, err := g.tokenLogin(ctx)
		if err != nil {
			return g.fault(owner, project, "get authenticated user", err)
		}
		bot = login
	}
	lvl, _, err := g.client.Repositories.GetPermissionLevel(ctx, owner, project, bot)
	if err != nil {
		switch githubStatus(err) {
		case http.StatusNotFound:
			return fail(ErrNotCollaborator, fmt.Sprintf("bot %q is not a collaborator", bot))
		case http.StatusForbidden:
			if !isRateLimit(err) {
				// Only accounts with push access may read permissions.
				return fail(ErrNoPush, fmt.Sprintf("bot %q: the token's account has no push access", bot))
			}
		}
		return g.fault(owner, project, "get collaborator permission", err)
	}
	role := lvl.GetRoleName()
	switch perm := lvl.GetPermission(); {
	case perm == "admin" || perm == "write" || role == "maintain" || role == "admin" || role == "write":
		return nil
	case perm == "none" || perm == "":
		return fail(ErrNotCollaborator, fmt.Sprintf("bot %q is not a collaborator", bot))
	default:
		if role == "" {
			role = perm
		}
		return fail(ErrNoPush, fmt.Sprintf("bot %q has permission %q, needs write", bot, role))
	}
}

// botIsToken reports whether the bot is the token's own account, so that
// the repository's permissions field is the bot's.
func (g *GitHub) botIsToken(ctx context.Context) bool {
	if g.cfg.Bot == "" {
		return true
	}
	if _, ok := g.cfg.Tokens.(*GitHubAppTokenSource); ok {
		return true // the installation pushes; Bot names a user, not it
	}
	login, err := g.tokenLogin(ctx)
	return err == nil && strings.EqualFold(login, g.cfg.Bot)
}

// tokenLogin returns the login of the token's account (GET /user), cached.
func (g *GitHub) tokenLogin(ctx context.Context) (string, error) {
	g.mu.Lock()
	login := g.login
	g.mu.Unlock()
	if login != "" {
		return login, nil
	}
	u, _, err := g.client.Users.Get(ctx, "")
	if err != nil {
		return "", err
	}
	g.mu.Lock()
	g.login = u.GetLogin()
	g.mu.Unlock()
	return u.GetLogin(), nil
}

// botName names the bot for messages; it never fails.
func (g *GitHub) botName(ctx context.Context) string {
	if _, ok := g.cfg.Tokens.(*GitHubAppTokenSource); ok {
		return "the app installation"
	}
	login, err := g.tokenLogin(ctx)
	if err != nil || login == "" {
		return "the token's account"
	}
	return fmt.Sprintf("bot %q", login)
}

// fault classifies an error that is not an answer about the destination.
func (g *GitHub) fault(owner, project, op string, err error) error {
	e := &Error{Forge: KindGitHub, Owner: owner, Project: project, Detail: op, Cause: redact(err, g.cfg.Token)}
	if s := classifyToken(err); s != nil {
		e.Err = s
		return e
	}
	e.Err = faultKind(githubStatus(err), isRateLimit(err), err)
	return e
}

func githubStatus(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		return rl.Response.StatusCode
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) && ab.Response != nil {
		return ab.Response.StatusCode
	}
	return 0
}

func isRateLimit(err error) bool {
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	return errors.As(err, &rl) || errors.As(err, &ab)
}
