package forge_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// preflightConfig is one way of configuring a checker for a preflight
// matrix.
type preflightConfig struct {
	name  string
	cfg   forge.Config
	admin bool // the token is alice's: cases answer wantAdmin where it is set
}

// botConfigs are the three ways a preflight matrix configures a checker at
// the fake: the bot's token alone (at url), the bot's token with the bot
// named (at namedURL, e.g. the API's own URL), and alice's token with the
// bot named (at adminURL).
func botConfigs(url, namedURL, adminURL, botToken, adminToken string) []preflightConfig {
	return []preflightConfig{
		{name: "token is bot", cfg: forge.Config{BaseURL: url, Token: botToken}},
		{name: "bot named, token is bot", cfg: forge.Config{BaseURL: namedURL, Token: botToken, Bot: "bot"}},
		{name: "bot named, admin token", cfg: forge.Config{BaseURL: adminURL, Token: adminToken, Bot: "bot"}, admin: true},
	}
}

// preflightCase is one destination and the answer the checker must give.
type preflightCase struct {
	owner, project  string
	want, wantAdmin error
	msg             string // in the error whenever the answer is want
}

// testPreflightMatrix checks every case under every config, in parallel.
// adminMsg says whether msg must hold under alice's token too; extra, when
// set, checks more of each answer.
func testPreflightMatrix(t *testing.T, kind forge.Kind, configs []preflightConfig, cases []preflightCase, adminMsg bool,
	extra func(t *testing.T, err, want error, tc preflightCase)) {
	t.Helper()
	for _, c := range configs {
		checker, err := forge.New(kind, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(c.name+"/"+tc.owner+"/"+tc.project, func(t *testing.T) {
				t.Parallel()
				want, asAdmin := tc.want, false
				if c.admin && tc.wantAdmin != nil {
					want, asAdmin = tc.wantAdmin, true
				}
				err := checker.Preflight(context.Background(), tc.owner, tc.project)
				checkErr(t, err, want, c.cfg.Token)
				if want != nil && !asAdmin && (adminMsg || !c.admin) && !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q does not contain %q", err, tc.msg)
				}
				if want != nil && !forge.IsBadRequest(err) {
					t.Errorf("IsBadRequest(%v) = false", err)
				}
				if extra != nil {
					extra(t, err, want, tc)
				}
			})
		}
	}
}

// faultyFake is what testFaults asks of a fake: each can be told to fail
// every request or to answer slowly.
type faultyFake interface {
	Fail(status int)
	Delay(d time.Duration)
}

// faultCase is one way a forge's API fails a preflight.
type faultCase struct {
	name      string
	fail      int           // the status the fake answers with, if not 0
	delay     time.Duration // how long the fake waits before answering
	cfg       forge.Config  // BaseURL is the fake's, or url
	url       string
	timeout   time.Duration // the checker's
	ctxTO     time.Duration // the caller's deadline
	want      error         // nil: any error
	also      error         // errors.Is must hold too
	transient bool
	msg       string // in the error, besides named
}

// testFaults preflights owner/project on a fresh world for each case, in
// parallel: the error comes quickly, is a server fault (transient or not)
// and contains named, e.g. "gitea: alice/write".
func testFaults(t *testing.T, kind forge.Kind, newWorld func(*testing.T) (faultyFake, string), cases []faultCase, owner, project, named string) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, url := newWorld(t)
			fake.Fail(tc.fail)
			fake.Delay(tc.delay)
			cfg := tc.cfg
			cfg.BaseURL = url
			if tc.url != "" {
				cfg.BaseURL = tc.url
			}
			cfg.Timeout = tc.timeout
			checker, err := forge.New(kind, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.ctxTO > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTO)
				defer cancel()
			}
			start := time.Now()
			err = checker.Preflight(ctx, owner, project)
			if err == nil {
				t.Fatal("Preflight succeeded")
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("Preflight took %v", time.Since(start))
			}
			if tc.want != nil {
				checkErr(t, err, tc.want, cfg.Token)
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Errorf("error %v is not %v", err, tc.also)
			}
			if forge.IsBadRequest(err) {
				t.Errorf("IsBadRequest(%v) = true for a server fault", err)
			}
			if got := forge.IsTransient(err); got != tc.transient {
				t.Errorf("IsTransient(%v) = %v, want %v", err, got, tc.transient)
			}
			if !strings.Contains(err.Error(), named) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not name %s or lacks %q", err, named, tc.msg)
			}
		})
	}
}

// serverFaults are the faults every forge's checker reports as transient,
// with the bot's token: a 500 (named in the error), a 503, a server nobody
// listens on at unreachable, and one slower than the checker's timeout.
func serverFaults(token, unreachable string) []faultCase {
	cfg := forge.Config{Token: token}
	return []faultCase{
		{name: "server 500", fail: 500, cfg: cfg, want: forge.ErrUnavailable, transient: true, msg: "500"},
		{name: "server 503", fail: 503, cfg: cfg, want: forge.ErrUnavailable, transient: true},
		{name: "unreachable", url: unreachable, cfg: cfg, want: forge.ErrUnavailable, transient: true},
		{name: "timeout", delay: 5 * time.Second, cfg: cfg, timeout: 100 * time.Millisecond,
			want: forge.ErrUnavailable, also: context.DeadlineExceeded, transient: true},
	}
}

// preflightOK preflights owner/project n times with one checker of kind,
// each a success, and returns the checker.
func preflightOK(t *testing.T, kind forge.Kind, cfg forge.Config, owner, project string, n int) forge.Checker {
	t.Helper()
	checker, err := forge.New(kind, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := checker.Preflight(context.Background(), owner, project); err != nil {
			t.Fatal(err)
		}
	}
	return checker
}

// checkRequests checks how many requests a fake counted under each route.
func checkRequests(t *testing.T, requests func(route string) int, want map[string]int) {
	t.Helper()
	for route, n := range want {
		if got := requests(route); got != n {
			t.Errorf("%s: %d requests, want %d", route, got, n)
		}
	}
}

// repoFake is what the GitHub and Gitea fakes share to build a world.
type repoFake interface {
	AddToken(token, login string)
	AddOrg(login string)
	AddRepo(owner, name string)
	AddPrivateRepo(owner, name string)
	AddCollaborator(owner, repo, login, role string)
	Archive(owner, repo string)
}

// addRepoWorld gives "bot" (botToken) each role on alice's (adminToken)
// public repository of that name, none on alice/stranger, admin on the
// archived alice/archived; alice/secret is private; in the organisation
// acme, bot may write to the private private-write and read private-read,
// which alice administers.
func addRepoWorld(fake repoFake, botToken, adminToken string, roles ...string) {
	fake.AddToken(botToken, "bot")
	fake.AddToken(adminToken, "alice")
	fake.AddOrg("acme")
	for _, role := range roles {
		fake.AddRepo("alice", role)
		fake.AddCollaborator("alice", role, "bot", role)
	}
	fake.AddRepo("alice", "stranger") // public, bot has no role
	fake.AddRepo("alice", "archived")
	fake.AddCollaborator("alice", "archived", "bot", "admin")
	fake.Archive("alice", "archived")
	fake.AddPrivateRepo("alice", "secret")
	fake.AddPrivateRepo("acme", "private-write")
	fake.AddCollaborator("acme", "private-write", "bot", "write")
	fake.AddPrivateRepo("acme", "private-read")
	fake.AddCollaborator("acme", "private-read", "bot", "read")
	fake.AddCollaborator("acme", "private-read", "alice", "admin")
}

// checkErr asserts that err is (or wraps) want, or is nil when want is nil,
// and that it does not leak the token.
func checkErr(t *testing.T, err, want error, token string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("Preflight: %v, want success", err)
	case want == nil:
		return
	case err == nil:
		t.Fatalf("Preflight succeeded, want %v", want)
	case !errors.Is(err, want):
		t.Fatalf("Preflight: %v, want %v", err, want)
	}
	var fe *forge.Error
	if !errors.As(err, &fe) {
		t.Errorf("error %T is not a *forge.Error", err)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		t.Errorf("error leaks the token: %v", err)
	}
}

// closedURL returns the URL of a 127.0.0.1 port nobody listens on.
func closedURL(t *testing.T) string { return "http://" + hgtest.ClosedAddr(t) }
