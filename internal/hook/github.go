package hook

import (
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
	body, err := readSigned(provider, r, cfg, "X-Hub-Signature-256", "X-GitHub-Event", "ping", "push")
	if err != nil {
		return nil, err
	}
	var p pushDoc[githubOwner, githubPusher]
	if err := decodePayload(r, body, true, cfg, &p); err != nil {
		return nil, err
	}
	// Either name will do.
	if err := needRepository(p.Repository != nil, func() string { return p.Repository.FullName + p.Repository.CloneURL }); err != nil {
		return nil, err
	}
	owner := p.Repository.Owner.Login
	if owner == "" {
		owner = p.Repository.Owner.Name
	}
	return finish(p.event(provider, r.Header.Get("X-GitHub-Delivery"), owner, p.Pusher.Name), r, cfg)
}

// githubOwner and githubPusher are the repository's owner and the pusher
// as GitHub gives them.
type (
	githubOwner struct {
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	githubPusher struct {
		Name string `json:"name"`
	}
)

// pushDoc is the push document GitHub sends and the Gogs family (Gitea,
// Forgejo, Gogs) copies; only the shapes of the owner (O) and the pusher
// (P) differ.
type pushDoc[O, P any] struct {
	Ref        string     `json:"ref"`
	After      string     `json:"after"`
	Commits    []struct{} `json:"commits"`
	Repository *struct {
		Name     string `json:"name"`
		FullName string `json:"full_name"`
		CloneURL string `json:"clone_url"`
		Private  bool   `json:"private"`
		Owner    O      `json:"owner"`
	} `json:"repository"`
	Pusher P `json:"pusher"`
}

// event is the Git push the document describes, once needRepository has
// passed; owner and pusher are the names the caller reads from O and P.
func (p *pushDoc[O, P]) event(provider, delivery, owner, pusher string) *PushEvent {
	repo := p.Repository
	return &PushEvent{
		Provider:   provider,
		DeliveryID: delivery,
		SCM:        scm.Git,
		Repository: repo.FullName,
		Owner:      owner,
		Name:       repo.Name,
		CloneURL:   repo.CloneURL,
		Refs:       addRef(nil, p.Ref),
		Commits:    len(p.Commits),
		Private:    repo.Private,
		Node:       headNode(p.After),
		Pusher:     pusher,
	}
}
