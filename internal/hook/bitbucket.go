package hook

import (
	"net/http"
	"strings"
)

// ParseBitbucket parses a Bitbucket Cloud (API 2.0) "repo:push" delivery
// (X-Event-Key: repo:push). When cfg.Secret is set, X-Hub-Signature
// (sha256=<hex HMAC-SHA256 of the body>) must match. Other event keys
// answer ErrIgnored. DeliveryID is X-Request-UUID (else X-Hook-UUID). Refs
// are refs/heads/<branch> and refs/tags/<tag>; Mercurial named branches and
// bookmarks (Bitbucket hosted hg until 2020) are given by name.
func ParseBitbucket(r *http.Request, cfg Config) (*PushEvent, error) {
	const provider = "bitbucket"
	body, err := readSigned(provider, r, cfg, "X-Hub-Signature", "X-Event-Key", "diagnostics:ping", "repo:push")
	if err != nil {
		return nil, err
	}
	type refState struct {
		Type   string `json:"type"`
		Name   string `json:"name"`
		Target struct {
			Hash string `json:"hash"`
		} `json:"target"`
	}
	var p struct {
		Repository *struct {
			FullName  string `json:"full_name"`
			Name      string `json:"name"`
			SCM       string `json:"scm"`
			IsPrivate bool   `json:"is_private"`
			Links     struct {
				HTML struct {
					Href string `json:"href"`
				} `json:"html"`
			} `json:"links"`
			Workspace struct {
				Slug string `json:"slug"`
			} `json:"workspace"`
		} `json:"repository"`
		Push *struct {
			Changes []struct {
				New     *refState  `json:"new"`
				Old     *refState  `json:"old"`
				Commits []struct{} `json:"commits"`
			} `json:"changes"`
		} `json:"push"`
		Actor userName `json:"actor"`
	}
	if err := decodePayload(r, body, false, cfg, &p); err != nil {
		return nil, err
	}
	if err := needRepository(p.Repository != nil, func() string { return p.Repository.FullName }); err != nil {
		return nil, err
	}
	repo := p.Repository
	if p.Push == nil {
		return nil, errorf(http.StatusBadRequest, nil, `JSON payload has no "push" field`)
	}
	cloneURL := strings.TrimRight(repo.Links.HTML.Href, "/")
	if cloneURL == "" {
		cloneURL = bitbucketOrg + "/" + repo.FullName
	}
	ev := &PushEvent{
		Provider:   provider,
		DeliveryID: firstValue(r, "X-Request-UUID", "X-Hook-UUID"),
		SCM:        normSCM(repo.SCM),
		Repository: repo.FullName,
		Owner:      repo.Workspace.Slug,
		Name:       repo.FullName[strings.LastIndexByte(repo.FullName, '/')+1:],
		CloneURL:   cloneURL,
		Private:    repo.IsPrivate,
		Pusher:     string(p.Actor),
	}
	for _, c := range p.Push.Changes {
		ev.Commits += len(c.Commits)
		state := c.New
		if state == nil {
			state = c.Old // a deleted branch or tag
		} else if ev.Node == "" {
			ev.Node = headNode(state.Target.Hash)
		}
		if state != nil {
			ev.Refs = addRef(ev.Refs, bitbucketRef(state.Type, state.Name))
		}
	}
	return finish(ev, r, cfg)
}

func bitbucketRef(kind, name string) string {
	if name == "" {
		return ""
	}
	switch kind {
	case "branch":
		return "refs/heads/" + name
	case "tag", "annotated_tag":
		return "refs/tags/" + name
	}
	return name // hg named_branch, bookmark
}
