package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"code.gitea.io/sdk/gitea"
)

// Gitea checks destinations on Gitea or Forgejo (same API).
type Gitea struct {
	cfg  Config
	base string
	hc   *http.Client

	mu    sync.Mutex
	login string // the token's user, once known
}

// NewGitea returns a Gitea/Forgejo checker. cfg.BaseURL is required: the
// server root (https://codeberg.org/); a trailing /api/v1/ is accepted.
// cfg.Tokens is not supported.
func NewGitea(cfg Config) (*Gitea, error) {
	if cfg.Tokens != nil {
		return nil, errors.New("forge: gitea: token sources are not supported, use Config.Token")
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("forge: gitea: BaseURL is required")
	}
	u, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("forge: gitea: %w", err)
	}
	u.Path = strings.TrimSuffix(u.Path, "api/v1/")
	return &Gitea{cfg: cfg, base: strings.TrimSuffix(u.String(), "/"), hc: cfg.httpClient()}, nil
}

// client returns an SDK client bound to ctx. The SDK keeps one context per
// client, so each Preflight gets its own (they are cheap: no request is
// made, the server version is not asked for).
func (g *Gitea) client(ctx context.Context) (*gitea.Client, error) {
	return gitea.NewClient(g.base,
		gitea.SetToken(g.cfg.Token),
		gitea.SetHTTPClient(g.hc),
		gitea.SetContext(ctx),
		gitea.SetGiteaVersion(""),
		gitea.SetUserAgent("synchroniser"),
	)
}

// Preflight checks that owner/project exists on Gitea and that the bot may
// push to it (repository permissions when the bot is the token's user,
// otherwise GET /repos/{owner}/{repo}/collaborators/{bot}/permission).
func (g *Gitea) Preflight(ctx context.Context, owner, project string) error {
	return g.cfg.runPreflight(ctx, KindGitea, owner, project, ownerRE, g.preflight)
}

func (g *Gitea) preflight(ctx context.Context, owner, project string, fail failFunc) error {
	c, err := g.client(ctx)
	if err != nil {
		return g.fault(owner, project, "client", nil, err)
	}

	repo, resp, err := c.GetRepo(owner, project)
	if err != nil {
		if status(resp) != http.StatusNotFound {
			return g.fault(owner, project, "get repository", resp, err)
		}
		// Organisations are users too for GET /users/{name}.
		if _, resp, err := c.GetUserInfo(owner); err != nil {
			if status(resp) == http.StatusNotFound {
				return fail(ErrUserNotFound, "")
			}
			return g.fault(owner, project, "get user", resp, err)
		}
		return fail(ErrRepoNotFound, "")
	}

	if repo.Archived {
		return fail(ErrNoPush, "the repository is archived (read-only)")
	}
	bot := g.cfg.Bot
	if bot == "" || repo.Permissions != nil {
		login, err := g.tokenLogin(c)
		if err != nil {
			return g.fault(owner, project, "get authenticated user", nil, err)
		}
		if bot == "" {
			bot = login
		}
		if p := repo.Permissions; p != nil && strings.EqualFold(bot, login) && (p.Push || p.Admin) {
			return nil
		}
	}

	perm, resp, err := c.CollaboratorPermission(owner, project, bot)
	if err != nil {
		switch status(resp) {
		case http.StatusNotFound:
			return fail(ErrNotCollaborator, fmt.Sprintf("bot %q does not exist", bot))
		case http.StatusForbidden:
			return fail(ErrNoPush, fmt.Sprintf("bot %q: the token's account may not read its permission", bot))
		}
		return g.fault(owner, project, "get collaborator permission", resp, err)
	}
	switch perm.Permission {
	case gitea.AccessModeWrite, gitea.AccessModeAdmin, gitea.AccessModeOwner:
		return nil
	case gitea.AccessModeRead:
		// Everyone may read a public repository: ask whether the bot is
		// a collaborator at all.
		is, resp, err := c.IsCollaborator(owner, project, bot)
		if err != nil {
			return g.fault(owner, project, "check collaborator", resp, err)
		}
		if is {
			return fail(ErrNoPush, fmt.Sprintf("bot %q has permission %q, needs write", bot, perm.Permission))
		}
	}
	return fail(ErrNotCollaborator, fmt.Sprintf("bot %q is not a collaborator", bot))
}

// tokenLogin returns the token's user (GET /user), cached.
func (g *Gitea) tokenLogin(c *gitea.Client) (string, error) {
	g.mu.Lock()
	login := g.login
	g.mu.Unlock()
	if login != "" {
		return login, nil
	}
	u, resp, err := c.GetMyUserInfo()
	if err != nil {
		return "", &statusError{status: status(resp), err: err}
	}
	g.mu.Lock()
	g.login = u.UserName
	g.mu.Unlock()
	return u.UserName, nil
}

// statusError keeps the HTTP status of an SDK error whose message lacks it.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string {
	if e.status == 0 {
		return e.err.Error()
	}
	return fmt.Sprintf("%d %s: %v", e.status, http.StatusText(e.status), e.err)
}
func (e *statusError) Unwrap() error { return e.err }

func status(resp *gitea.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

func (g *Gitea) fault(owner, project, op string, resp *gitea.Response, err error) error {
	st := status(resp)
	var se *statusError
	if st == 0 && errors.As(err, &se) {
		st = se.status
	} else if st != 0 {
		err = &statusError{status: st, err: err}
	}
	e := &Error{Forge: KindGitea, Owner: owner, Project: project, Detail: op, Cause: redact(err, g.cfg.Token)}
	e.Err = faultKind(st, false, err)
	return e
}
