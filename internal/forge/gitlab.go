package forge

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// GitLab checks destinations on GitLab (gitlab.com or self-managed, and
// Heptapod, which serves the same API).
type GitLab struct {
	cfg    Config
	client *gitlab.Client

	mu     sync.Mutex
	botID  int64
	botWho string
}

// gitlabDeveloper is the least access level that may push.
const gitlabDeveloper = gitlab.DeveloperPermissions

// NewGitLab returns a GitLab checker. cfg.BaseURL defaults to
// https://gitlab.com/; the server root or its /api/v4/ root may be given.
// cfg.Tokens is not supported (GitLab tokens are static).
func NewGitLab(cfg Config) (*GitLab, error) {
	if cfg.Tokens != nil {
		return nil, errors.New("forge: gitlab: token sources are not supported, use Config.Token")
	}
	base := cfg.BaseURL
	if base == "" {
		base = "https://gitlab.com/"
	}
	if _, err := parseBaseURL(base); err != nil {
		return nil, fmt.Errorf("forge: gitlab: %w", err)
	}
	c, err := gitlab.NewClient(cfg.Token,
		gitlab.WithBaseURL(base),
		gitlab.WithHTTPClient(cfg.httpClient()),
		gitlab.WithoutRetries(), // the caller decides on retries (IsTransient)
		gitlab.WithURLWarningLogger(cfg.logger()),
	)
	if err != nil {
		return nil, fmt.Errorf("forge: gitlab: %w", redact(err, cfg.Token))
	}
	return &GitLab{cfg: cfg, client: c}, nil
}

var gitlabNamespaceRE = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*$`)

// Preflight checks that owner/project exists on GitLab (owner may be a
// nested group path, "group/subgroup") and that the bot is a member with
// Developer access (30) or higher, directly or inherited.
func (g *GitLab) Preflight(ctx context.Context, owner, project string) error {
	return g.cfg.runPreflight(ctx, KindGitLab, owner, project, gitlabNamespaceRE, g.preflight)
}

func (g *GitLab) preflight(ctx context.Context, owner, project string, fail failFunc) error {
	pid := owner + "/" + project
	p, _, err := g.client.Projects.GetProject(pid, nil, gitlab.WithContext(ctx))
	if err != nil {
		if !errors.Is(err, gitlab.ErrNotFound) {
			return g.fault(owner, project, "get project", err)
		}
		exists, err := g.ownerExists(ctx, owner)
		if err != nil {
			return g.fault(owner, project, "get owner", err)
		}
		if !exists {
			return fail(ErrUserNotFound, "")
		}
		return fail(ErrRepoNotFound, "")
	}

	if p.Archived {
		return fail(ErrNoPush, "the project is archived (read-only)")
	}
	id, who, err := g.bot(ctx)
	if err != nil {
		if errors.Is(err, errNoSuchBot) {
			return fail(ErrNotCollaborator, err.Error())
		}
		return g.fault(owner, project, "get bot user", err)
	}
	m, _, err := g.client.ProjectMembers.GetInheritedProjectMember(p.ID, id, gitlab.WithContext(ctx))
	if err != nil {
		if errors.Is(err, gitlab.ErrNotFound) {
			return fail(ErrNotCollaborator, fmt.Sprintf("bot %q is not a member", who))
		}
		return g.fault(owner, project, "get project member", err)
	}
	if m.AccessLevel < gitlabDeveloper {
		return fail(ErrNoPush, fmt.Sprintf("bot %q has access level %d (%s), needs Developer (30)",
			who, m.AccessLevel, gitlabLevelName(m.AccessLevel)))
	}
	return nil
}

// gitlabLevels names GitLab's access levels, highest first.
var gitlabLevels = []struct {
	min  gitlab.AccessLevelValue
	name string
}{{50, "Owner"}, {40, "Maintainer"}, {30, "Developer"}, {20, "Reporter"}, {15, "Planner"}, {10, "Guest"}}

func gitlabLevelName(l gitlab.AccessLevelValue) string {
	for _, lv := range gitlabLevels {
		if l >= lv.min {
			return lv.name
		}
	}
	return "Minimal access"
}

// ownerExists reports whether owner is a user or a group.
func (g *GitLab) ownerExists(ctx context.Context, owner string) (bool, error) {
	if !strings.Contains(owner, "/") {
		users, _, err := g.client.Users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr(owner)}, gitlab.WithContext(ctx))
		if err != nil {
			return false, err
		}
		for _, u := range users {
			if strings.EqualFold(u.Username, owner) {
				return true, nil
			}
		}
	}
	_, _, err := g.client.Groups.GetGroup(owner, nil, gitlab.WithContext(ctx))
	if errors.Is(err, gitlab.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

var errNoSuchBot = errors.New("bot user does not exist")

// bot returns the bot's user ID and name: the configured Bot looked up by
// username, or the token's user. Cached after the first success.
func (g *GitLab) bot(ctx context.Context) (int64, string, error) {
	g.mu.Lock()
	id, who := g.botID, g.botWho
	g.mu.Unlock()
	if id != 0 {
		return id, who, nil
	}
	if g.cfg.Bot == "" {
		u, _, err := g.client.Users.CurrentUser(gitlab.WithContext(ctx))
		if err != nil {
			return 0, "", err
		}
		id, who = u.ID, u.Username
	} else {
		users, _, err := g.client.Users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr(g.cfg.Bot)}, gitlab.WithContext(ctx))
		if err != nil {
			return 0, "", err
		}
		for _, u := range users {
			if strings.EqualFold(u.Username, g.cfg.Bot) {
				id, who = u.ID, u.Username
			}
		}
		if id == 0 {
			return 0, "", fmt.Errorf("%w: %q", errNoSuchBot, g.cfg.Bot)
		}
	}
	g.mu.Lock()
	g.botID, g.botWho = id, who
	g.mu.Unlock()
	return id, who, nil
}

func (g *GitLab) fault(owner, project, op string, err error) error {
	e := &Error{Forge: KindGitLab, Owner: owner, Project: project, Detail: op, Cause: redact(err, g.cfg.Token)}
	var er *gitlab.ErrorResponse
	st := 0
	if errors.As(err, &er) && er.Response != nil {
		st = er.Response.StatusCode
	}
	e.Err = faultKind(st, false, err)
	return e
}
