package hook

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/scm"
)

const secret = "It's a Secret to Everybody"

var signed = Config{Enabled: true, Secret: secret}

// TestRealPayloads parses payloads the providers really sent, recorded in
// go-playground/webhooks' testdata.
func TestRealPayloads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		parse   Parser
		headers func(body []byte) []string
		want    PushEvent
	}{
		{"github push", "github/push.json", ParseGitHub, func(b []byte) []string {
			return []string{"X-GitHub-Event: push", "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958", "X-Hub-Signature-256: sha256=" + sign(secret, b)}
		}, PushEvent{
			Provider: "github", DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", SCM: "git", Repository: "binkkatal/sample_app",
			Owner: "binkkatal", Name: "sample_app", CloneURL: "https://github.com/binkkatal/sample_app.git", Refs: []string{"refs/heads/master"},
			Commits: 1, Node: "fd489864e7642b48eaad6e3f155c10e46810ec72", Pusher: "binkkatal",
		}},
		{"bitbucket repo:push", "bitbucket/repo-push.json", ParseBitbucket, func(b []byte) []string {
			return []string{"X-Event-Key: repo:push", "X-Request-UUID: afe4f5b8-5a5c-4b4e-9d8f-1b1f0e7b8c1d", "X-Hook-UUID: hook-1", "X-Hub-Signature: sha256=" + sign(secret, b)}
		}, PushEvent{
			Provider: "bitbucket", DeliveryID: "afe4f5b8-5a5c-4b4e-9d8f-1b1f0e7b8c1d", SCM: "git", Repository: "team_name/repo_name",
			Owner: "team_name", Name: "repo_name", CloneURL: "https://api.bitbucket.org/bitbucket/bitbucket", Refs: []string{"refs/heads/name-of-branch"},
			Commits: 1, Private: true, Node: "709d658dc5b6d6afcd46049c2f332ee3f515a67d", Pusher: "emmap1",
		}},
		{"gitlab push", "gitlab/push-event.json", ParseGitLab, func([]byte) []string {
			return []string{"X-Gitlab-Event: Push Hook", "X-Gitlab-Token: " + secret, "X-Gitlab-Event-UUID: 13792a34-cac6-4fda-95a8-c58e00a3954e"}
		}, PushEvent{
			Provider: "gitlab", DeliveryID: "13792a34-cac6-4fda-95a8-c58e00a3954e", SCM: "git", Repository: "mike/diaspora",
			Owner: "mike", Name: "diaspora", CloneURL: "http://example.com/mike/diaspora.git", Refs: []string{"refs/heads/master"},
			Commits: 4, Private: true, Node: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Pusher: "John Smith",
		}},
		{"gitlab tag push", "gitlab/tag-event.json", ParseGitLab, func([]byte) []string {
			return []string{"X-Gitlab-Event: Tag Push Hook", "X-Gitlab-Token: " + secret, "Idempotency-Key: k-1"}
		}, PushEvent{
			Provider: "gitlab", DeliveryID: "k-1", SCM: "git", Repository: "jsmith/example",
			Owner: "jsmith", Name: "example", CloneURL: "http://example.com/jsmith/example.git", Refs: []string{"refs/tags/v1.0.0"},
			Private: true, Node: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", Pusher: "John Smith",
		}},
		{"gitlab system push", "gitlab/system-push-event.json", ParseGitLab, func([]byte) []string {
			return []string{"X-Gitlab-Event: System Hook", "X-Gitlab-Token: " + secret}
		}, PushEvent{
			Provider: "gitlab", SCM: "git", Repository: "mike/diaspora",
			Owner: "mike", Name: "diaspora", CloneURL: "http://example.com/mike/diaspora.git", Refs: []string{"refs/heads/master"},
			Commits: 1, Private: true, Node: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Pusher: "John Smith",
		}},
		{"heptapod push", "gitlab/push-event.json", ParseHeptapod, func([]byte) []string {
			return []string{"X-Gitlab-Event: Push Hook", "X-Gitlab-Token: " + secret}
		}, PushEvent{
			Provider: "heptapod", SCM: "hg", Repository: "mike/diaspora",
			Owner: "mike", Name: "diaspora", CloneURL: "http://example.com/mike/diaspora.git", Refs: []string{"refs/heads/master"},
			Commits: 4, Private: true, Node: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Pusher: "John Smith",
		}},
		{"gitea push", "gitea/push-event.json", ParseGitea, func(b []byte) []string {
			return []string{"X-Gitea-Event: push", "X-Gitea-Delivery: 5a6e5f3c-1111", "X-Gitea-Signature: " + sign(secret, b),
				"X-Gogs-Event: push", "X-Gogs-Signature: " + sign(secret, b)}
		}, PushEvent{
			Provider: "gitea", DeliveryID: "5a6e5f3c-1111", SCM: "git", Repository: "example/example",
			Owner: "example", Name: "example", CloneURL: "http://localhost:3000/example/example.git", Refs: []string{"refs/heads/master"},
			Commits: 1, Node: "67b56589a45103f891bdee7c0546e5d40bc02001", Pusher: "example",
		}},
		{"forgejo push", "gitea/push-event.json", ParseForgejo, func(b []byte) []string {
			return []string{"X-Forgejo-Event: push", "X-Forgejo-Delivery: f-1", "X-Forgejo-Signature: " + sign(secret, b)}
		}, PushEvent{
			Provider: "forgejo", DeliveryID: "f-1", SCM: "git", Repository: "example/example",
			Owner: "example", Name: "example", CloneURL: "http://localhost:3000/example/example.git", Refs: []string{"refs/heads/master"},
			Commits: 1, Node: "67b56589a45103f891bdee7c0546e5d40bc02001", Pusher: "example",
		}},
		{"gitea signed with X-Hub-Signature-256 only", "gitea/push-event.json", ParseGitea, func(b []byte) []string {
			return []string{"X-Gitea-Event: push", "X-Hub-Signature-256: sha256=" + sign(secret, b)}
		}, PushEvent{
			Provider: "gitea", SCM: "git", Repository: "example/example",
			Owner: "example", Name: "example", CloneURL: "http://localhost:3000/example/example.git", Refs: []string{"refs/heads/master"},
			Commits: 1, Node: "67b56589a45103f891bdee7c0546e5d40bc02001", Pusher: "example",
		}},
		{"gogs push", "gogs/push-event.json", ParseGogs, func(b []byte) []string {
			return []string{"X-Gogs-Event: push", "X-Gogs-Delivery: g-1", "X-Gogs-Signature: " + sign(secret, b)}
		}, PushEvent{
			Provider: "gogs", DeliveryID: "g-1", SCM: "git", Repository: "unknwon/webhooks",
			Owner: "unknwon", Name: "webhooks", CloneURL: "http://localhost:3000/unknwon/webhooks.git", Refs: []string{"refs/heads/develop"},
			Commits: 1, Node: "bffeb74224043ba2feb48d137756c8a9331c449a", Pusher: "unknwon",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := playgroundFile(t, tt.file)
			ev, err := tt.parse(request(body, "application/json", tt.headers(body)...), signed)
			if err != nil {
				t.Fatal(err)
			}
			checkEvent(t, ev, tt.want)
			// Unsigned deliveries pass when no secret is configured.
			ev, err = tt.parse(request(body, "application/json", strings.Join(tt.headers(body)[:1], "")), enabled)
			if err != nil {
				t.Fatalf("without secret: %v", err)
			}
			if ev.Repository != tt.want.Repository {
				t.Errorf("without secret: Repository = %q", ev.Repository)
			}
		})
	}
}

// TestRealNonPushEvents checks that real non-push deliveries are ignored.
func TestRealNonPushEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		parse  Parser
		header string
		ping   bool
	}{
		{"github ping", "github/ping.json", ParseGitHub, "X-GitHub-Event: ping", true},
		{"github issues", "github/issues.json", ParseGitHub, "X-GitHub-Event: issues", false},
		{"github create", "github/create.json", ParseGitHub, "X-GitHub-Event: create", false},
		{"bitbucket pull request", "bitbucket/pull-request-created.json", ParseBitbucket, "X-Event-Key: pullrequest:created", false},
		{"gitlab issue", "gitlab/issue-event.json", ParseGitLab, "X-Gitlab-Event: Issue Hook", false},
		{"gitlab system project", "gitlab/system-project-created.json", ParseGitLab, "X-Gitlab-Event: System Hook", false},
		{"heptapod merge request", "gitlab/merge-request-event.json", ParseHeptapod, "X-Gitlab-Event: Merge Request Hook", false},
		{"gitea create", "gitea/create-event.json", ParseGitea, "X-Gitea-Event: create", false},
		{"gogs release", "gogs/release-event.json", ParseGogs, "X-Gogs-Event: release", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := playgroundFile(t, tt.file)
			ev, err := tt.parse(request(body, "application/json", tt.header), enabled)
			if ev != nil || !errors.Is(err, ErrIgnored) {
				t.Fatalf("= %+v, %v; want ErrIgnored", ev, err)
			}
			if errors.Is(err, ErrPing) != tt.ping {
				t.Errorf("ping = %v, want %v (%v)", !tt.ping, tt.ping, err)
			}
			if StatusOf(err) != http.StatusAccepted {
				t.Errorf("StatusOf = %d", StatusOf(err))
			}
		})
	}
}

// provider describes how to deliver a minimal push to one provider, for
// the hostile cases shared by all of them.
type provider struct {
	name     string
	parse    Parser
	push     string                             // event header for a push
	other    string                             // event header for another event ("" = no such header)
	auth     func(body []byte, s string) string // header authenticating body with secret s
	payload  func(repo, cloneURL string) string // minimal push payload
	form     bool                               // accepts payload= forms
	jsonOnly bool                               // refuses other content types (415)
}

func hubSig(name, prefix string) func([]byte, string) string {
	return func(b []byte, s string) string { return name + ": " + prefix + sign(s, b) }
}

func providers() []provider {
	ghLike := func(repo, u string) string {
		return `{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","commits":[{}],"repository":{"full_name":"` + repo + `","name":"r","clone_url":"` + u + `","owner":{"login":"team"}}}`
	}
	gitlab := func(repo, u string) string {
		return `{"object_kind":"push","ref":"refs/heads/main","project":{"path_with_namespace":"` + repo + `","git_http_url":"` + u + `"}}`
	}
	return []provider{
		{"bitbucket-legacy", ParseBitbucketLegacy, "", "", func(_ []byte, s string) string { return "" }, func(repo, u string) string {
			return `{"canon_url":"` + u + `","repository":{"absolute_url":"/` + repo + `/","scm":"hg"}}`
		}, true, false},
		{"bitbucket", ParseBitbucket, "X-Event-Key: repo:push", "X-Event-Key: issue:created", hubSig("X-Hub-Signature", "sha256="), func(repo, u string) string {
			return `{"repository":{"full_name":"` + repo + `","scm":"hg","links":{"html":{"href":"` + u + `"}}},"push":{"changes":[{"new":{"type":"named_branch","name":"default"},"commits":[{}]}]}}`
		}, false, true},
		{"github", ParseGitHub, "X-GitHub-Event: push", "X-GitHub-Event: star", hubSig("X-Hub-Signature-256", "sha256="), ghLike, true, true},
		{"gitlab", ParseGitLab, "X-Gitlab-Event: Push Hook", "X-Gitlab-Event: Note Hook", func(_ []byte, s string) string { return "X-Gitlab-Token: " + s }, gitlab, false, true},
		{"heptapod", ParseHeptapod, "X-Gitlab-Event: Push Hook", "X-Gitlab-Event: Job Hook", func(_ []byte, s string) string { return "X-Gitlab-Token: " + s }, gitlab, false, true},
		{"gitea", ParseGitea, "X-Gitea-Event: push", "X-Gitea-Event: issues", hubSig("X-Gitea-Signature", ""), ghLike, true, true},
		{"forgejo", ParseForgejo, "X-Forgejo-Event: push", "X-Forgejo-Event: fork", hubSig("X-Forgejo-Signature", ""), ghLike, true, true},
		{"gogs", ParseGogs, "X-Gogs-Event: push", "X-Gogs-Event: create", hubSig("X-Gogs-Signature", ""), ghLike, true, true},
		{"generic", ParseGeneric, "", "", func(_ []byte, s string) string { return "Authorization: Bearer " + s }, func(repo, u string) string {
			return `{"repository":"` + repo + `","url":"` + u + `","scm":"hg"}`
		}, true, true},
	}
}

func TestHostile(t *testing.T) {
	t.Parallel()
	for _, p := range providers() {
		deliver := func(body []byte, contentType string, cfg Config, extra ...string) (*PushEvent, error) {
			h := append([]string{}, extra...)
			if p.push != "" {
				h = append(h, p.push)
			}
			if cfg.Secret != "" {
				if a := p.auth(body, cfg.Secret); a != "" {
					h = append(h, a)
				}
			}
			r := request(body, contentType, h...)
			if p.name == "bitbucket-legacy" && cfg.Secret != "" {
				r.URL.RawQuery = "token=" + cfg.Secret
			}
			return p.parse(r, cfg)
		}
		valid := []byte(p.payload("team/repo", "https://hg.example.org/team/repo"))
		bad := func(repo, u string) []byte { return []byte(p.payload(repo, u)) }
		type badCase struct {
			name        string
			body        []byte
			contentType string
			cfg         Config
			extra       []string
			status      int
			msg         string
		}
		tests := []badCase{
			{name: "truncated JSON", body: valid[:len(valid)-3], status: 400, msg: "invalid JSON payload"},
			{name: "empty body", body: nil, status: 400, msg: "no JSON payload"},
			{name: "not an object", body: []byte(`"x"`), status: 400, msg: "invalid JSON payload"},
			{name: "deeply nested", body: deepJSON(100000), status: 400, msg: "nested deeper than"},
			{name: "nesting over custom limit", body: deepJSON(5), cfg: Config{Enabled: true, Secret: secret, MaxDepth: 3}, status: 400, msg: "nested deeper than 3"},
			{name: "huge body", body: hugeBody(), status: 413, msg: "exceeds the limit"},
			{name: "dash repository", body: bad("-oProxyCommand=touch x/repo", "https://hg.example.org/r"), status: 400, msg: `beginning with "-"`},
			{name: "dash repository name", body: bad("team/--upload-pack=touch x", "https://hg.example.org/r"), status: 400, msg: `beginning with "-"`},
			{name: "ext transport URL", body: bad("team/repo", "ext::sh -c touch% /tmp/pwned"), status: 400, msg: "invalid repository URL"},
			{name: "fd transport URL", body: bad("team/repo", "fd::3"), status: 400, msg: "invalid repository URL"},
			{name: "ssh option URL", body: bad("team/repo", "ssh://-oProxyCommand=x/"), status: 400, msg: "invalid repository URL"},
			{name: "credentials URL", body: bad("team/repo", "https://user:pw@hg.example.org/r"), status: 400, msg: "invalid repository URL"},
			{name: "file URL", body: bad("team/repo", "file:///etc/passwd"), status: 400, msg: "invalid repository URL"},
			{name: "control char in repository", body: bad(`team/re\u0000po`, "https://hg.example.org/r"), status: 400, msg: "control character"},
			{name: "disabled", body: valid, cfg: Config{Secret: secret}, status: 404, msg: "not enabled"},
			{name: "gzip", body: valid, extra: []string{"Content-Encoding: gzip"}, status: 415, msg: "Content-Encoding"},
		}
		if p.name != "bitbucket-legacy" {
			tests = append(tests, badCase{name: "malformed Content-Type", body: valid, contentType: "application/json; =", status: 415, msg: "Content-Type"})
		}
		if p.jsonOnly {
			tests = append(tests, badCase{name: "wrong content type", body: valid, contentType: "text/xml", status: 415, msg: "unsupported Content-Type"})
		}
		if p.form {
			tests = append(tests, badCase{name: "malformed form", body: []byte("payload=%zz"), contentType: "application/x-www-form-urlencoded", status: 400, msg: "malformed form encoding"})
		}
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				cfg := tt.cfg
				if cfg.Secret == "" && cfg.MaxDepth == 0 && tt.status != 404 {
					cfg = signed
				}
				ct := tt.contentType
				if ct == "" {
					ct = "application/json"
				}
				ev, err := deliver(tt.body, ct, cfg, tt.extra...)
				if ev != nil {
					t.Errorf("event %+v returned", ev)
				}
				wantError(t, err, tt.status, tt.msg)
			})
		}
		t.Run(p.name+"/valid", func(t *testing.T) {
			t.Parallel()
			ev, err := deliver(valid, "application/json", signed)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Provider != p.name || ev.Repository != "team/repo" || ev.Owner != "team" {
				t.Errorf("event = %+v", ev)
			}
			if p.form {
				ev, err := deliver(formBody(string(valid)), "application/x-www-form-urlencoded", signed)
				if p.name == "generic" {
					// The generic form has fields, not a payload field.
					wantError(t, err, 400, `neither "repository" nor "url"`)
					return
				}
				if err != nil || ev.Repository != "team/repo" {
					t.Errorf("as form: %+v, %v", ev, err)
				}
			}
		})
		t.Run(p.name+"/GET", func(t *testing.T) {
			t.Parallel()
			r := request(nil, "")
			r.Method = http.MethodGet
			_, err := p.parse(r, signed)
			wantError(t, err, 405, "POST")
		})
		if p.other != "" {
			t.Run(p.name+"/other event", func(t *testing.T) {
				t.Parallel()
				r := request(valid, "application/json", p.other, p.auth(valid, secret))
				ev, err := p.parse(r, signed)
				if ev != nil || !errors.Is(err, ErrIgnored) || StatusOf(err) != 202 {
					t.Fatalf("= %+v, %v; want ErrIgnored", ev, err)
				}
			})
			t.Run(p.name+"/missing event header", func(t *testing.T) {
				t.Parallel()
				r := request(valid, "application/json", p.auth(valid, secret))
				_, err := p.parse(r, signed)
				wantError(t, err, 400, "missing")
			})
		}
		if p.name != "bitbucket-legacy" {
			t.Run(p.name+"/missing signature", func(t *testing.T) {
				t.Parallel()
				h := []string{}
				if p.push != "" {
					h = append(h, p.push)
				}
				_, err := p.parse(request(valid, "application/json", h...), signed)
				wantError(t, err, 401, "missing")
			})
			t.Run(p.name+"/wrong signature", func(t *testing.T) {
				t.Parallel()
				h := []string{p.auth(valid, "wrong secret")}
				if p.push != "" {
					h = append(h, p.push)
				}
				_, err := p.parse(request(valid, "application/json", h...), signed)
				wantError(t, err, 401, "")
			})
			t.Run(p.name+"/signature of another body", func(t *testing.T) {
				t.Parallel()
				h := []string{p.auth([]byte(strings.Replace(string(valid), "team/repo", "evil/repo", 1)), secret)}
				if p.push != "" {
					h = append(h, p.push)
				}
				_, err := p.parse(request(valid, "application/json", h...), signed)
				if p.name == "gitlab" || p.name == "heptapod" || p.name == "generic" {
					if err != nil { // a token does not sign the body
						t.Fatal(err)
					}
					return
				}
				wantError(t, err, 401, "does not match")
			})
		}
	}
}

func TestMalformedSignatures(t *testing.T) {
	t.Parallel()
	body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"o/r"}}`)
	for _, sig := range []string{"sha1=" + sign(secret, body), "sha256=zz", "sha256=" + sign(secret, body)[:10], "sha256=", sign(secret, body)} {
		_, err := ParseGitHub(request(body, "application/json", "X-GitHub-Event: push", "X-Hub-Signature-256: "+sig), signed)
		wantError(t, err, 401, "X-Hub-Signature-256")
	}
	// A ping is authenticated too.
	_, err := ParseGitHub(request(body, "application/json", "X-GitHub-Event: ping"), signed)
	wantError(t, err, 401, "missing")
}

func TestGeneric(t *testing.T) {
	t.Parallel()
	node := "e7abfeb787b014a87f80d91701ab4a3b74575a32"
	tests := []struct {
		name        string
		body        string
		contentType string
		headers     []string
		cfg         Config
		want        *PushEvent
		status      int
		msg         string
	}{
		{name: "json", body: `{"repository":"hub","url":"https://hg.example.org/hub","scm":"hg","node":"` + node + `","refs":["default","stable"],"delivery":"d-1"}`,
			want: &PushEvent{Provider: "generic", DeliveryID: "d-1", SCM: "hg", Repository: "hub", Name: "hub", CloneURL: "https://hg.example.org/hub", Refs: []string{"default", "stable"}, Node: node}},
		{name: "form as the hgweb hook sends it", contentType: "application/x-www-form-urlencoded",
			body:    "repository=team%2Fhub&url=https%3A%2F%2Fhg.example.org%2Fteam%2Fhub&scm=hg&node=" + node + "&ref=default",
			headers: []string{"X-Delivery-ID: hdr-1"},
			want:    &PushEvent{Provider: "generic", DeliveryID: "hdr-1", SCM: "hg", Repository: "team/hub", Owner: "team", Name: "hub", CloneURL: "https://hg.example.org/team/hub", Refs: []string{"default"}, Node: node}},
		{name: "url only", body: `{"url":"https://hg.example.org/team/hub/"}`,
			want: &PushEvent{Provider: "generic", Repository: "team/hub", Owner: "team", Name: "hub", CloneURL: "https://hg.example.org/team/hub/"}},
		{name: "repository only, Git", body: `{"repository":"hub","scm":"GIT"}`, want: &PushEvent{Provider: "generic", SCM: "git", Repository: "hub", Name: "hub"}},
		{name: "no token configured", body: `{"repository":"hub"}`, cfg: Config{Enabled: true}, status: 401, msg: "no token configured"},
		{name: "basic auth", body: `{"repository":"hub"}`, headers: []string{"Authorization: Basic " + secret}, status: 401, msg: "missing bearer token"},
		{name: "wrong token", body: `{"repository":"hub"}`, headers: []string{"Authorization: Bearer nope"}, status: 401, msg: "wrong bearer token"},
		{name: "bad scm", body: `{"repository":"hub","scm":"svn"}`, status: 400, msg: `"scm" must be`},
		{name: "bad node", body: `{"repository":"hub","node":"$(id)"}`, status: 400, msg: `"node" must be`},
		{name: "nothing", body: `{}`, status: 400, msg: `neither "repository" nor "url"`},
		{name: "dash ref", body: `{"repository":"hub","ref":"--config=hooks.x=y"}`, status: 400, msg: `ref "--config`},
		{name: "wrong refs type", body: `{"repository":"hub","refs":"default"}`, status: 400, msg: "invalid JSON payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			h := tt.headers
			if len(h) == 0 || !strings.HasPrefix(h[0], "Authorization") {
				h = append(h, "Authorization: Bearer "+secret)
			}
			cfg := tt.cfg
			if !cfg.Enabled {
				cfg = signed
			}
			ev, err := ParseGeneric(request([]byte(tt.body), ct, h...), cfg)
			if tt.want == nil {
				wantError(t, err, tt.status, tt.msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkEvent(t, ev, *tt.want)
		})
	}
}

func TestHeptapodVCSType(t *testing.T) {
	t.Parallel()
	body := func(vcs string) []byte {
		return []byte(`{"object_kind":"push","ref":"refs/heads/branch/default","project":{"path_with_namespace":"group/sub/repo","git_http_url":"https://foss.heptapod.net/group/sub/repo.git","vcs_type":"` + vcs + `","visibility_level":20}}`)
	}
	for vcs, want := range map[string]scm.Kind{"hg": scm.Hg, "hg_git": scm.Hg, "git": scm.Git, "": scm.Hg} {
		ev, err := ParseHeptapod(request(body(vcs), "application/json", "X-Gitlab-Event: Push Hook"), enabled)
		if err != nil {
			t.Fatal(err)
		}
		if ev.SCM != want || ev.Owner != "group/sub" || ev.Name != "repo" || ev.Private {
			t.Errorf("vcs_type %q: %+v", vcs, ev)
		}
	}
	// The configuration overrides the payload.
	ev, err := ParseHeptapod(request(body("git"), "application/json", "X-Gitlab-Event: Push Hook"), Config{Enabled: true, SCM: "hg"})
	if err != nil || ev.SCM != "hg" {
		t.Fatalf("%+v, %v", ev, err)
	}
	// GitLab itself hosts Git only.
	ev, err = ParseGitLab(request(body("hg"), "application/json", "X-Gitlab-Event: Push Hook"), enabled)
	if err != nil || ev.SCM != "hg" {
		t.Fatalf("%+v, %v", ev, err)
	}
}

func TestBitbucketRefs(t *testing.T) {
	t.Parallel()
	body := []byte(`{"actor":{"display_name":"Jan"},"repository":{"full_name":"o/r","scm":"hg","workspace":{"slug":"o"},"links":{"html":{"href":"https://bitbucket.org/o/r"}}},"push":{"changes":[
		{"new":{"type":"named_branch","name":"default","target":{"hash":"e7abfeb787b014a87f80d91701ab4a3b74575a32"}},"commits":[{},{}]},
		{"new":{"type":"bookmark","name":"feature"},"commits":[{}]},
		{"new":null,"old":{"type":"tag","name":"v1"}},
		{"new":{"type":"branch","name":"main"}}]}}`)
	ev, err := ParseBitbucket(request(body, "application/json", "X-Event-Key: repo:push", "X-Hook-UUID: h-1"), enabled)
	if err != nil {
		t.Fatal(err)
	}
	checkEvent(t, ev, PushEvent{Provider: "bitbucket", DeliveryID: "h-1", SCM: "hg", Repository: "o/r", Owner: "o", Name: "r",
		CloneURL: "https://bitbucket.org/o/r", Refs: []string{"default", "feature", "refs/tags/v1", "refs/heads/main"}, Commits: 3,
		Node: "e7abfeb787b014a87f80d91701ab4a3b74575a32", Pusher: "Jan"})
	_, err = ParseBitbucket(request([]byte(`{"repository":{"full_name":"o/r"}}`), "application/json", "X-Event-Key: repo:push"), enabled)
	wantError(t, err, 400, `no "push" field`)
}

// TestGitHubFormDelivery sends a real push as GitHub does with the
// application/x-www-form-urlencoded content type: the signature covers the
// form-encoded body.
func TestGitHubFormDelivery(t *testing.T) {
	t.Parallel()
	body := formBody(string(playgroundFile(t, "github/push.json")))
	ev, err := ParseGitHub(request(body, "application/x-www-form-urlencoded", "X-GitHub-Event: push", "X-Hub-Signature-256: sha256="+sign(secret, body)), signed)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Repository != "binkkatal/sample_app" || ev.Commits != 1 {
		t.Errorf("event = %+v", ev)
	}
}

// TestCallerBodyLimit checks that a limit the web layer sets with
// http.MaxBytesReader is reported as 413, not as a read error.
func TestCallerBodyLimit(t *testing.T) {
	t.Parallel()
	body := []byte(`{"repository":"hub","url":"https://hg.example.org/hub"}`)
	r := request(body, "application/json", "Authorization: Bearer "+secret)
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	r.ContentLength = -1
	_, err := ParseGeneric(r, signed)
	wantError(t, err, http.StatusRequestEntityTooLarge, "limit of 10 bytes")
}
