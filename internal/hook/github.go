package hook

import (
	"fmt"
	"net/http"

	"github.com/synchroniser/synchroniser/internal/scm"
)

// ParseGitHub parses a GitHub "push" delivery (X-GitHub-Event: push), JSON
// or form-encoded (payload=). When cfg.Secret is set, X-Hub-Signature-256
// (sha256=<hex HMAC-SHA256 of the body>) must match; the older SHA-1
// X-Hub-Signature is not accepted. A "ping" answers ErrPing, other events
// ErrIgnored. DeliveryID is X-GitHub-Delivery; SCM is "git".
func ParseGitHub(r *http.Request, cfg Config) (*PushEvent, error) {
	const provider = "github"
	body, err := readSigned(provider, r, cfg, "X-Hub-Signature-256")
	if err != nil {
		return nil, err
	}
	switch event := r.Header.Get("X-GitHub-Event"); event {
	case "":
		return nil, errorf(http.StatusBadRequest, nil, "missing X-GitHub-Event header")
	case "ping":
		return nil, ErrPing
	case "push":
	default:
		return nil, fmt.Errorf("github event %q: %w", truncate(event, 64), ErrIgnored)
	}
	doc, err := jsonBody(r, body, true)
	if err != nil {
		return nil, err
	}
	var p struct {
		Ref        string     `json:"ref"`
		After      string     `json:"after"`
		Commits    []struct{} `json:"commits"`
		Repository *struct {
			Name     string `json:"name"`
			FullName string `json:"full_name"`
			CloneURL string `json:"clone_url"`
			Private  bool   `json:"private"`
			Owner    struct {
				Login string `json:"login"`
				Name  string `json:"name"`
			} `json:"owner"`
		} `json:"repository"`
		Pusher struct {
			Name string `json:"name"`
		} `json:"pusher"`
	}
	if err := decodeJSON(doc, &p, cfg.maxDepth()); err != nil {
		return nil, err
	}
	repo := p.Repository
	if repo == nil {
		return nil, errorf(http.StatusBadRequest, nil, `JSON payload has no "repository" field`)
	}
	if repo.FullName == "" && repo.CloneURL == "" {
		return nil, errorf(http.StatusBadRequest, nil, `JSON payload has no "repository.full_name" field`)
	}
	owner := repo.Owner.Login
	if owner == "" {
		owner = repo.Owner.Name
	}
	ev := &PushEvent{
		Provider:   provider,
		DeliveryID: r.Header.Get("X-GitHub-Delivery"),
		SCM:        scm.Git,
		Repository: repo.FullName,
		Owner:      owner,
		Name:       repo.Name,
		CloneURL:   repo.CloneURL,
		Refs:       addRef(nil, p.Ref),
		Commits:    len(p.Commits),
		Private:    repo.Private,
		Node:       headNode(p.After),
		Pusher:     p.Pusher.Name,
	}
	return finish(ev, r, cfg)
}
