package hook

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// ParseBitbucketLegacy parses a delivery of Bitbucket's legacy "POST"
// service (2011–2018), which the original /synchronise/ endpoint received.
//
// The JSON document is taken from the form field "payload" (as Bitbucket
// sent it, application/x-www-form-urlencoded; multipart/form-data works
// too) or, for any other content type, from the raw body. The clone URL is
// canon_url + repository.absolute_url without its trailing slash, e.g.
// https://bitbucket.org/elevenbits/hub. The service could not sign; when
// cfg.Secret is set the request URL must carry it as ?token=.
//
// Errors (all 400 unless said): empty body or empty payload field: "no JSON
// payload"; unparsable JSON: "invalid JSON payload: ..."; a document without
// "repository": names the missing field; malformed form encoding; wrong or
// missing token: 401.
//
// SCM is the payload's repository.scm ("hg" or "git"); the caller decides
// what it accepts, see PushEvent.CheckSCM.
func ParseBitbucketLegacy(r *http.Request, cfg Config) (*PushEvent, error) {
	const provider = "bitbucket-legacy"
	queryToken := func() string {
		if r.URL == nil {
			return ""
		}
		return r.URL.Query().Get("token")
	}
	body, err := receive(provider, r, cfg, tokenCheck(cfg, queryToken, `"token" query parameter`))
	if err != nil {
		return nil, err
	}
	doc, err := legacyDocument(r, body)
	if err != nil {
		return nil, err
	}
	ev, err := parseLegacyJSON(doc, cfg.maxDepth())
	if err != nil {
		return nil, err
	}
	return finish(ev, r, cfg)
}

// legacyDocument finds the JSON document in a legacy delivery.
func legacyDocument(r *http.Request, body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errorf(http.StatusBadRequest, nil, "no JSON payload")
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = "" // any content type: a malformed one is no form
	}
	switch mt {
	case formType:
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			return body, nil // raw JSON sent with a form content type
		}
		return formPayload(body)
	case "multipart/form-data":
		return multipartPayload(body, params["boundary"])
	}
	return body, nil
}

// maxParts bounds the parts of a multipart form read looking for "payload".
const maxParts = 32

func multipartPayload(body []byte, boundary string) ([]byte, error) {
	if boundary == "" {
		return nil, errorf(http.StatusBadRequest, nil, "malformed form encoding: multipart without boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for range maxParts {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errorf(http.StatusBadRequest, err, "malformed form encoding")
		}
		if part.FormName() != "payload" {
			continue
		}
		p, err := io.ReadAll(part) // bounded by body
		if err != nil {
			return nil, errorf(http.StatusBadRequest, err, "malformed form encoding")
		}
		if len(bytes.TrimSpace(p)) == 0 {
			return nil, errorf(http.StatusBadRequest, nil, "no JSON payload")
		}
		return p, nil
	}
	return nil, errorf(http.StatusBadRequest, nil, "no JSON payload: form has no \"payload\" field")
}

// legacyPayload is the part of the POST service's document used here; see
// https://confluence.atlassian.com/bitbucket/_postpayload-414187839.html
type legacyPayload struct {
	CanonURL   string `json:"canon_url"`
	Repository *struct {
		AbsoluteURL string   `json:"absolute_url"`
		Name        string   `json:"name"`
		Owner       userName `json:"owner"`
		Slug        string   `json:"slug"`
		SCM         string   `json:"scm"`
		IsPrivate   bool     `json:"is_private"`
	} `json:"repository"`
	Commits []struct {
		Branch  string `json:"branch"`
		RawNode string `json:"raw_node"`
	} `json:"commits"`
	User userName `json:"user"`
}

const bitbucketOrg = "https://bitbucket.org"

func parseLegacyJSON(doc []byte, maxDepth int) (*PushEvent, error) {
	var p legacyPayload
	if err := decodeJSON(doc, &p, maxDepth); err != nil {
		return nil, err
	}
	repo := p.Repository
	if repo == nil {
		return nil, errorf(http.StatusBadRequest, nil, `JSON payload has no "repository" field`)
	}
	abs := repo.AbsoluteURL
	if abs == "" {
		if repo.Owner == "" || repo.Slug == "" {
			return nil, errorf(http.StatusBadRequest, nil, `JSON payload has no "repository.absolute_url" field (nor "owner" and "slug")`)
		}
		abs = "/" + string(repo.Owner) + "/" + repo.Slug + "/"
	}
	if !strings.HasPrefix(abs, "/") || strings.HasPrefix(abs, "//") {
		return nil, errorf(http.StatusBadRequest, nil, `"repository.absolute_url" %q must be a path beginning with a single "/"`, limitio.Clip(abs, 100))
	}
	canon := strings.TrimRight(p.CanonURL, "/")
	if canon == "" {
		canon = bitbucketOrg
	}
	full := strings.Trim(abs, "/")
	ev := &PushEvent{
		Provider:   "bitbucket-legacy",
		SCM:        normSCM(repo.SCM),
		Repository: full,
		Owner:      string(repo.Owner),
		Name:       repo.Slug,
		CloneURL:   canon + strings.TrimRight(abs, "/"),
		Commits:    len(p.Commits),
		Private:    repo.IsPrivate,
		Pusher:     string(p.User),
	}
	if ev.Name == "" {
		ev.Name = full[strings.LastIndexByte(full, '/')+1:]
	}
	for _, c := range p.Commits {
		if len(ev.Refs) >= maxRefs {
			break
		}
		if c.Branch != "" && ev.SCM == scm.Git {
			ev.Refs = addRef(ev.Refs, "refs/heads/"+c.Branch)
		} else {
			ev.Refs = addRef(ev.Refs, c.Branch)
		}
		if isHexNode(c.RawNode) {
			ev.Node = c.RawNode
		}
	}
	return ev, nil
}

// normSCM maps a payload's scm to scm.Hg, scm.Git or "" (unknown).
func normSCM(s string) scm.Kind {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "hg", "mercurial":
		return scm.Hg
	case "git":
		return scm.Git
	}
	return ""
}
