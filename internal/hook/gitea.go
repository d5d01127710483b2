package hook

import "net/http"

// ParseGitea parses a Gitea "push" delivery: X-Gitea-Event (or the X-Gogs-*
// headers Gitea also sends), X-Gitea-Delivery, and, when cfg.Secret is set,
// X-Gitea-Signature (hex HMAC-SHA256 of the body; X-Gogs-Signature and
// X-Hub-Signature-256 are accepted as well, all keyed by the same secret).
// The body is JSON or a form with the JSON in "payload". SCM is "git".
func ParseGitea(r *http.Request, cfg Config) (*PushEvent, error) {
	return parseGitea("gitea", []string{"X-Gitea-", "X-Gogs-"}, r, cfg)
}

// ParseForgejo is ParseGitea for Forgejo, which sends X-Forgejo-* headers
// (and the X-Gitea-* ones).
func ParseForgejo(r *http.Request, cfg Config) (*PushEvent, error) {
	return parseGitea("forgejo", []string{"X-Forgejo-", "X-Gitea-", "X-Gogs-"}, r, cfg)
}

// ParseGogs is ParseGitea for Gogs, which sends X-Gogs-* headers only.
func ParseGogs(r *http.Request, cfg Config) (*PushEvent, error) {
	return parseGitea("gogs", []string{"X-Gogs-"}, r, cfg)
}

// parseGitea handles the Gogs family; prefixes are the header families the
// provider sends, preferred first.
func parseGitea(provider string, prefixes []string, r *http.Request, cfg Config) (*PushEvent, error) {
	body, err := receive(provider, r, cfg)
	if err != nil {
		return nil, err
	}
	names := func(suffix string) []string {
		out := make([]string, len(prefixes))
		for i, p := range prefixes {
			out[i] = p + suffix
		}
		return out
	}
	if cfg.Secret != "" {
		h, sig := firstHeader(r, names("Signature")...)
		prefix := ""
		if sig == "" && provider != "gogs" {
			h, sig, prefix = "X-Hub-Signature-256", r.Header.Get("X-Hub-Signature-256"), "sha256="
		}
		if h == "" {
			h = prefixes[0] + "Signature"
		}
		if err := checkHMAC(cfg.Secret, body, h, sig, prefix); err != nil {
			return nil, err
		}
	}
	_, event := firstHeader(r, names("Event")...)
	if err := sortEvent(provider, prefixes[0]+"Event", event, "", "push"); err != nil {
		return nil, err
	}
	var p struct {
		pushDoc[userName, userName]
		Total *int `json:"total_commits"`
	}
	if err := decodePayload(r, body, true, cfg, &p); err != nil {
		return nil, err
	}
	if err := needRepository(p.Repository != nil, func() string { return p.Repository.FullName }); err != nil {
		return nil, err
	}
	ev := p.event(provider, firstValue(r, names("Delivery")...), string(p.Repository.Owner), string(p.Pusher))
	if p.Total != nil {
		ev.Commits = *p.Total
	}
	return finish(ev, r, cfg)
}
