package hook

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// ParseGeneric parses a delivery to the generic endpoint, meant for
// self-hosted Mercurial (or Git) servers: an hgweb changegroup hook running
// curl (see examples/hgweb-hook.rc), a CI job, a script.
//
// The request must carry "Authorization: Bearer <cfg.Secret>"; the
// endpoint has no unauthenticated mode, so with no Secret configured every
// request is refused (401). The body is JSON:
//
//	{"repository": "team/repo", "url": "https://hg.example.org/team/repo",
//	 "scm": "hg", "node": "<40 hex>", "refs": ["default"], "delivery": "..."}
//
// or a form (application/x-www-form-urlencoded) with the same fields
// ("ref" may repeat; "refs" is accepted as well). At least one of
// "repository" and "url" is required; "scm" is "hg", "git" or absent;
// "node" is 12 to 40 hex digits or absent. DeliveryID is the X-Delivery-ID
// or X-Request-ID header, else the "delivery" field.
func ParseGeneric(r *http.Request, cfg Config) (*PushEvent, error) {
	const provider = "generic"
	body, err := receive(provider, r, cfg, func() error {
		if cfg.Secret == "" {
			return errorf(http.StatusUnauthorized, nil, "the generic webhook endpoint has no token configured")
		}
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			token = ""
		}
		return checkToken(cfg.Secret, strings.TrimSpace(token), "bearer token (Authorization: Bearer ...)")
	})
	if err != nil {
		return nil, err
	}
	var p struct {
		Repository string   `json:"repository"`
		URL        string   `json:"url"`
		SCM        string   `json:"scm"`
		Node       string   `json:"node"`
		Ref        string   `json:"ref"`
		Refs       []string `json:"refs"`
		Delivery   string   `json:"delivery"`
	}
	mt, err := mediaType(r)
	if err != nil {
		return nil, err
	}
	switch {
	case mt == formType:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errorf(http.StatusBadRequest, err, "malformed form encoding")
		}
		p.Repository, p.URL, p.SCM, p.Node, p.Delivery = vals.Get("repository"), vals.Get("url"), vals.Get("scm"), vals.Get("node"), vals.Get("delivery")
		p.Refs = append(vals["ref"], vals["refs"]...)
	case mt == "" || isJSONType(mt):
		if err := decodeJSON(body, &p, cfg.maxDepth()); err != nil {
			return nil, err
		}
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, nil, "unsupported Content-Type %q: expected application/json or a form", mt)
	}
	if p.Repository == "" && p.URL == "" {
		return nil, errorf(http.StatusBadRequest, nil, `payload has neither "repository" nor "url"`)
	}
	kind := scm.Kind(strings.ToLower(p.SCM))
	if kind != "" && !kind.Valid() {
		return nil, errorf(http.StatusBadRequest, nil, `"scm" must be "hg" or "git", not %q`, limitio.Clip(p.SCM, 32))
	}
	if p.Node != "" && !isHex(p.Node, 12, 40) {
		return nil, errorf(http.StatusBadRequest, nil, `"node" must be 12 to 40 hex digits`)
	}
	delivery := firstValue(r, "X-Delivery-ID", "X-Request-ID")
	if delivery == "" {
		delivery = p.Delivery
	}
	ev := &PushEvent{
		Provider:   provider,
		DeliveryID: delivery,
		SCM:        kind,
		Repository: strings.Trim(p.Repository, "/"),
		CloneURL:   p.URL,
		Node:       strings.ToLower(p.Node),
	}
	for _, ref := range append([]string{p.Ref}, p.Refs...) {
		ev.Refs = addRef(ev.Refs, ref)
	}
	if ev.Repository == "" {
		ev.Repository = repoFromURL(p.URL)
	}
	return finish(ev, r, cfg)
}

// repoFromURL takes a repository's name from its URL's path.
func repoFromURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.Trim(u.Path, "/")
}
