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
	body, err := readSigned(provider, r, cfg, "X-Hub-Signature-256")
	if err != nil {
		return nil, err
	}
	if err := sortEvent(provider, "X-GitHub-Event", r.Header.Get("X-GitHub-Event"), "ping", "push"); err != nil {
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
	if err := decodePayload(r, body, true, cfg, &p); err != nil {
		return nil, err
	}
	// Either name will do.
	if err := needRepository(p.Repository != nil, func() string { return p.Repository.FullName + p.Repository.CloneURL }); err != nil {
		return nil, err
	}
	repo := p.Repository
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
