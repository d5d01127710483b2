package hook

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// ParseGitLab parses a GitLab "Push Hook" or "Tag Push Hook" delivery (and
// a "System Hook" whose event is a push). When cfg.Secret is set,
// X-Gitlab-Token must equal it (compared in constant time). Other events
// answer ErrIgnored. DeliveryID is X-Gitlab-Event-UUID (else
// Idempotency-Key); SCM is "git".
func ParseGitLab(r *http.Request, cfg Config) (*PushEvent, error) {
	return parseGitLab("gitlab", scm.Git, r, cfg)
}

// ParseHeptapod parses a delivery from Heptapod, the GitLab fork that hosts
// Mercurial: the same headers and payload as ParseGitLab. SCM is "hg",
// unless the payload's project.vcs_type says "git" (Heptapod also hosts
// Git projects) or cfg.SCM overrides it.
func ParseHeptapod(r *http.Request, cfg Config) (*PushEvent, error) {
	return parseGitLab("heptapod", scm.Hg, r, cfg)
}

func parseGitLab(provider string, vcs scm.Kind, r *http.Request, cfg Config) (*PushEvent, error) {
	event := r.Header.Get("X-Gitlab-Event")
	body, err := receive(provider, r, cfg,
		tokenCheck(cfg, func() string { return r.Header.Get("X-Gitlab-Token") }, "X-Gitlab-Token header"),
		func() error {
			return sortEvent(provider, "X-Gitlab-Event", event, "", "Push Hook", "Tag Push Hook", "System Hook")
		})
	if err != nil {
		return nil, err
	}
	type urls struct {
		GitHTTPURL      string `json:"git_http_url"`
		HTTPURL         string `json:"http_url"`
		VisibilityLevel *int   `json:"visibility_level"`
	}
	var p struct {
		ObjectKind   string     `json:"object_kind"`
		EventName    string     `json:"event_name"`
		Ref          string     `json:"ref"`
		After        string     `json:"after"`
		CheckoutSHA  string     `json:"checkout_sha"`
		Commits      []struct{} `json:"commits"`
		TotalCommits *int       `json:"total_commits_count"`
		UserUsername string     `json:"user_username"`
		UserName     string     `json:"user_name"`
		Project      *struct {
			urls
			Name              string `json:"name"`
			PathWithNamespace string `json:"path_with_namespace"`
			VCSType           string `json:"vcs_type"`
		} `json:"project"`
		Repository *urls `json:"repository"`
	}
	if err := decodePayload(r, body, false, cfg, &p); err != nil {
		return nil, err
	}
	kind := p.ObjectKind
	if kind == "" {
		kind = p.EventName // system hooks
	}
	if kind != "push" && kind != "tag_push" {
		if kind == "" {
			return nil, errorf(http.StatusBadRequest, nil, `JSON payload has no "object_kind" field`)
		}
		return nil, fmt.Errorf("%s %s of kind %q: %w", provider, event, limitio.Clip(kind, 64), ErrIgnored)
	}
	proj := p.Project
	if proj == nil || proj.PathWithNamespace == "" {
		return nil, errorf(http.StatusBadRequest, nil, `JSON payload has no "project.path_with_namespace" field`)
	}
	if t := strings.ToLower(proj.VCSType); t == "git" {
		vcs = scm.Git
	} else if strings.HasPrefix(t, "hg") {
		vcs = scm.Hg
	}
	ev := &PushEvent{
		Provider:   provider,
		DeliveryID: firstValue(r, "X-Gitlab-Event-UUID", "Idempotency-Key"),
		SCM:        vcs,
		Repository: proj.PathWithNamespace,
		Refs:       addRef(nil, p.Ref),
		Commits:    len(p.Commits),
		Node:       headNode(p.CheckoutSHA),
		Pusher:     p.UserUsername,
	}
	if p.TotalCommits != nil {
		ev.Commits = *p.TotalCommits
	}
	if ev.Node == "" {
		ev.Node = headNode(p.After)
	}
	if ev.Pusher == "" {
		ev.Pusher = p.UserName
	}
	if i := strings.LastIndexByte(ev.Repository, '/'); i > 0 {
		ev.Owner, ev.Name = ev.Repository[:i], ev.Repository[i+1:] // the namespace may be nested
	}
	for _, u := range []*urls{&proj.urls, p.Repository} {
		if u == nil {
			continue
		}
		if ev.CloneURL == "" {
			ev.CloneURL = u.GitHTTPURL
		}
		if ev.CloneURL == "" {
			ev.CloneURL = u.HTTPURL
		}
		if u.VisibilityLevel != nil && *u.VisibilityLevel < 20 { // 0 private, 10 internal, 20 public
			ev.Private = true
		}
	}
	return finish(ev, r, cfg)
}
