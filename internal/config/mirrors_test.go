package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/mirror"
)

const mirrorsTOML = `
[destination]
token = "default-token"
[seed]
enabled = true
git_host = "https://github.com"
forge = "github"
api_url = "http://127.0.0.1:1/api/"
[[mirror]]
name = "hub"
source = "https://bitbucket.org/elevenbits/hub"
tip_branch = "main"
tags = false
[mirror.destination]
url = "https://github.com/elevenbits/hub-mirror.git"
forge = "github"
[[mirror]]
name = "byrepo"
repository = "acme/tools"
source = "https://hg.example.org/tools"
[mirror.destination]
url = "/srv/git/tools.git"
token = "own-token"
`

func TestMirrors(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(mirrorsTOML), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	ms := c.Mirrors()
	if len(ms) != 2 {
		t.Fatalf("%d mirrors", len(ms))
	}
	hub := ms[0]
	want := mirror.Mirror{Name: "hub", SCM: "hg", Source: "https://bitbucket.org/elevenbits/hub",
		Dest: mirror.Destination{URL: "https://github.com/elevenbits/hub-mirror.git", Forge: "github",
			Owner: "elevenbits", Project: "hub-mirror", Token: "default-token"},
		Policy: mirror.RefPolicy{TipBranch: "main", Tags: false}}
	if hub.Name != want.Name || hub.SCM != want.SCM || hub.Source != want.Source || hub.Dest != want.Dest ||
		hub.Policy.TipBranch != "main" || hub.Policy.Tags {
		t.Errorf("hub = %#v\nwant %#v", hub, want)
	}
	if err := hub.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if ms[1].Dest.Token != "own-token" || !ms[1].Policy.Tags || ms[1].Policy.TipBranch != "master" {
		t.Errorf("byrepo = %#v", ms[1])
	}
	if m, ok := c.Lookup("byrepo"); !ok || m.Name != "byrepo" {
		t.Errorf("Lookup(byrepo) = %v, %v", m, ok)
	}
	if _, ok := c.Lookup("nope"); ok {
		t.Error("Lookup(nope) found something")
	}
	if c.Converter("hub") != "native" {
		t.Errorf("Converter(hub) = %q", c.Converter("hub"))
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(mirrorsTOML), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	hubPush := Push{SCM: "hg", Repository: "elevenbits/hub", Owner: "elevenbits", Name: "hub", CloneURL: "https://bitbucket.org/elevenbits/hub"}
	cases := []struct {
		name          string
		push          Push
		user, project string
		wantName      string
		wantURL       string
		wantErr       string
	}{
		{"configured by URL", hubPush, "", "", "hub", "https://github.com/elevenbits/hub-mirror.git", ""},
		{"configured by URL, case and slash", Push{CloneURL: "https://BitBucket.org/elevenbits/hub/"}, "", "", "hub", "https://github.com/elevenbits/hub-mirror.git", ""},
		{"configured, same override", hubPush, "elevenbits", "hub-mirror", "hub", "https://github.com/elevenbits/hub-mirror.git", ""},
		{"configured by repository", Push{Repository: "acme/tools", CloneURL: "https://other.example.org/x"}, "", "", "byrepo", "/srv/git/tools.git", ""},
		{"seed, other override", hubPush, "jw", "hubcopy", "elevenbits.hub.jw.hubcopy", "https://github.com/jw/hubcopy.git", ""},
		{"seed default", Push{SCM: "hg", Repository: "other/repo", Owner: "other", Name: "repo", CloneURL: "https://bitbucket.org/other/repo"}, "", "", "other.repo", "https://github.com/other/repo.git", ""},
		{"seed user only", Push{Owner: "other", Name: "repo", CloneURL: "https://bitbucket.org/other/repo"}, "me", "", "other.repo.me.repo", "https://github.com/me/repo.git", ""},
		{"seed bad user", hubPush, "-oProxy", "x", "", "", "invalid destination user"},
		{"seed bad project", hubPush, "jw", "../etc", "", "", "invalid destination project"},
		{"seed no names", Push{CloneURL: "https://bitbucket.org/"}, "", "", "", "", "no repository owner"},
		{"seed other host", Push{Owner: "o", Name: "r", CloneURL: "https://evil.example/o/r"}, "", "", "", "", "not on the seed source host"},
		{"seed other port", Push{Owner: "o", Name: "r", CloneURL: "https://bitbucket.org:8443/o/r"}, "", "", "", "", "not on the seed source host"},
		{"seed bad slug", Push{Owner: "o", Name: "r/../x", CloneURL: "https://bitbucket.org/o/r"}, "", "", "", "", "invalid source repository"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := c.Resolve(tc.push, tc.user, tc.project)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != tc.wantName || m.Dest.URL != tc.wantURL {
				t.Errorf("got %s → %s, want %s → %s", m.Name, m.Dest.URL, tc.wantName, tc.wantURL)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if m.Dest.Token == "" {
				t.Error("no token")
			}
		})
	}
	s, _ := c.Resolve(Push{Owner: "o", Name: "p", CloneURL: "https://bitbucket.org/o/p"}, "", "")
	if s.Dest.Forge != "github" || s.Dest.APIURL != "http://127.0.0.1:1/api/" || s.Dest.Owner != "o" || s.Dest.Project != "p" || !s.Policy.Tags || s.Policy.TipBranch != "master" {
		t.Errorf("seed mirror = %#v", s)
	}

	off, err := Parse([]byte("[seed]\nenabled = false\n"), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.Resolve(hubPush, "", ""); !errors.Is(err, ErrNoMirror) {
		t.Errorf("seed off: err = %v, want ErrNoMirror", err)
	}
}

func TestResolveName(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(mirrorsTOML), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ owner, slug, user, project string }{
		{"elevenbits", "hub", "elevenbits", "hub"},
		{"eleven_bits", "my.repo", "jw", "hub-copy"},
		{"a_", "_d.", "x", "y_z.w"},
	} {
		m, err := c.Resolve(Push{Owner: tc.owner, Name: tc.slug, CloneURL: "https://bitbucket.org/" + tc.owner + "/" + tc.slug}, tc.user, tc.project)
		if err != nil {
			t.Fatalf("%v: %v", tc, err)
		}
		back, ok := c.ResolveName(m.Name)
		if !ok || back.Source != m.Source || back.Dest != m.Dest || back.Name != m.Name {
			t.Errorf("ResolveName(%q) = %#v, %v; want %#v", m.Name, back, ok, m)
		}
	}
	if m, ok := c.ResolveName("hub"); !ok || m.Dest.Project != "hub-mirror" {
		t.Errorf("configured mirror not found by name: %v %v", m, ok)
	}
	for _, bad := range []string{"", "one", "a.b.c", "a_x.b", "a.b_", "a..b", "a.b.-x.y"} {
		if m, ok := c.ResolveName(bad); ok {
			t.Errorf("ResolveName(%q) = %v", bad, m)
		}
	}
	off, _ := Parse(nil, "")
	if _, ok := off.ResolveName("elevenbits.hub"); ok {
		t.Error("seed name resolved with seed off")
	}
}

func FuzzSeedName(f *testing.F) {
	f.Add("elevenbits.hub")
	f.Add("a__b.c_dd.x.y")
	f.Fuzz(func(t *testing.T, name string) {
		o, s, u, p, ok := parseSeedName(name)
		if !ok {
			return
		}
		if again := seedName(o, s, u, p); again != name && seedName(o, s, o, s) != name {
			// Only the canonical spelling must round-trip.
			if o2, s2, u2, p2, ok2 := parseSeedName(again); !ok2 || o2 != o || s2 != s || u2 != u || p2 != p {
				t.Fatalf("%q → %q %q %q %q → %q does not round-trip", name, o, s, u, p, again)
			}
		}
	})
}
