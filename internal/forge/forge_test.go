package forge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/forge"
)

func TestNew(t *testing.T) {
	t.Parallel()
	gh := newGitHubWorld(t, nil)
	gl := newGitLabWorld(t)
	gt := newGiteaWorld(t)
	cases := []struct {
		kind  forge.Kind
		cfg   forge.Config
		owner string
		want  string // type of the checker, "" = error
	}{
		{"github", forge.Config{BaseURL: gh.URL, Token: botToken}, "alice", "*forge.GitHub"},
		{"GitHub", forge.Config{BaseURL: gh.URL, Token: botToken}, "alice", "*forge.GitHub"},
		{"gitlab", forge.Config{BaseURL: gl.URL, Token: glBotToken}, "alice", "*forge.GitLab"},
		{"heptapod", forge.Config{BaseURL: gl.URL, Token: glBotToken}, "alice", "*forge.GitLab"},
		{"gitea", forge.Config{BaseURL: gt.URL, Token: gtBotToken}, "alice", "*forge.Gitea"},
		{"forgejo", forge.Config{BaseURL: gt.URL, Token: gtBotToken}, "alice", "*forge.Gitea"},
		{"gitea", forge.Config{Token: gtBotToken}, "", ""}, // BaseURL required
		{"bitbucket", forge.Config{}, "", ""},
		{"", forge.Config{}, "", ""},
	}
	for _, tc := range cases {
		c, err := forge.New(tc.kind, tc.cfg)
		if tc.want == "" {
			if err == nil {
				t.Errorf("New(%q) succeeded", tc.kind)
			}
			continue
		}
		if err != nil {
			t.Fatalf("New(%q): %v", tc.kind, err)
		}
		if got := fmt.Sprintf("%T", c); got != tc.want {
			t.Errorf("New(%q) = %s, want %s", tc.kind, got, tc.want)
		}
		// Every forge's world gives the bot a writable repository named "write"
		// or "developer".
		project := "write"
		if strings.HasPrefix(tc.want, "*forge.GitLab") {
			project = "developer"
		}
		if err := c.Preflight(context.Background(), tc.owner, project); err != nil {
			t.Errorf("New(%q).Preflight: %v", tc.kind, err)
		}
	}
	if _, err := forge.New("gitlab", forge.Config{Tokens: forge.StaticToken("x")}); err == nil {
		t.Error("gitlab with a token source succeeded")
	}
}

// leakyTransport fails every request with an error quoting its credentials,
// as a careless proxy or library might.
type leakyTransport struct{}

func (leakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("proxy refused request with %q %q", r.Header.Get("Authorization"), r.Header.Get("PRIVATE-TOKEN"))
}

func TestErrorsNeverHoldTheToken(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-token-value"
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := forge.Config{BaseURL: "http://127.0.0.1:1/", Token: secret, Logger: logger,
		HTTPClient: &http.Client{Transport: leakyTransport{}}}
	for _, kind := range []forge.Kind{forge.KindGitHub, forge.KindGitLab, forge.KindGitea} {
		c, err := forge.New(kind, cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Preflight(context.Background(), "alice", "write")
		if err == nil {
			t.Fatalf("%s: Preflight succeeded", kind)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error leaks the token: %v", kind, err)
		}
		if !strings.Contains(err.Error(), "[REDACTED]") {
			t.Errorf("%s: error %q lost the cause's text", kind, err)
		}
		var fe *forge.Error
		if !errors.As(err, &fe) || fe.Owner != "alice" || fe.Project != "write" || fe.Forge != kind {
			t.Errorf("%s: error %#v", kind, fe)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("logs leak the token:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "forge preflight") || !strings.Contains(logs.String(), "owner=alice") {
		t.Errorf("no preflight log records:\n%s", logs.String())
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	cause := errors.New("dial tcp: refused")
	e := &forge.Error{Forge: "github", Owner: "o", Project: "p", Err: forge.ErrUnavailable, Detail: "get repository", Cause: cause}
	if got, want := e.Error(), "github: o/p: forge unavailable: get repository: dial tcp: refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, forge.ErrUnavailable) || !errors.Is(e, cause) || !forge.IsTransient(e) || forge.IsBadRequest(e) {
		t.Error("classification of an unavailable error")
	}
	for _, s := range []error{forge.ErrUserNotFound, forge.ErrRepoNotFound, forge.ErrNotCollaborator, forge.ErrNoPush} {
		e := &forge.Error{Forge: "gitea", Owner: "o", Project: "p", Err: s}
		if !forge.IsBadRequest(fmt.Errorf("wrapped: %w", e)) || forge.IsTransient(e) {
			t.Errorf("%v: not a bad request", s)
		}
	}
	if forge.IsBadRequest(forge.ErrAuth) || forge.IsTransient(forge.ErrAuth) {
		t.Error("ErrAuth is a permanent server fault")
	}
}

// FuzzPreflightNames checks that no owner or project name makes the checker
// panic or reach a route other than the ones it means to call (names are
// pasted into API paths).
func FuzzPreflightNames(f *testing.F) {
	f.Add("alice", "write")
	f.Add("..", "x")
	f.Add("alice", "../../user")
	f.Add("a/b", "c")
	f.Add("alice", "write?x=1")
	f.Add("alice", "write#frag")
	f.Add("alice%2F..", "x")
	f.Add("", "")
	f.Add("acme/tools", "inherited")
	f.Fuzz(func(t *testing.T, owner, project string) {
		gh := newGitHubWorld(t, nil)
		gl := newGitLabWorld(t)
		gt := newGiteaWorld(t)
		checkers := map[string]forge.Checker{}
		c1, _ := forge.NewGitHub(forge.Config{BaseURL: gh.URL, Token: botToken})
		c2, _ := forge.NewGitLab(forge.Config{BaseURL: gl.URL, Token: glBotToken})
		c3, _ := forge.NewGitea(forge.Config{BaseURL: gt.URL, Token: gtBotToken})
		checkers["github"], checkers["gitlab"], checkers["gitea"] = c1, c2, c3
		for name, c := range checkers {
			err := c.Preflight(context.Background(), owner, project)
			var fe *forge.Error
			if err != nil && !errors.As(err, &fe) {
				t.Errorf("%s: error %T %v", name, err, err)
			}
		}
		for name, n := range map[string]int{"github": gh.Requests("GET *"), "gitlab": gl.Requests("GET *"), "gitea": gt.Requests("GET *")} {
			if n != 0 {
				t.Errorf("%s: owner %q project %q reached %d unknown routes", name, owner, project, n)
			}
		}
	})
}
