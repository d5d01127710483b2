package config

import (
	"errors"
	"fmt"
	"os"
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

// TestLivingSourceKeys: layout, phases, rewrites, prune, wild heads and
// source credentials per mirror, with [source] and [seed] defaults.
func TestLivingSourceKeys(t *testing.T) {
	t.Parallel()
	tokFile := writeFile(t, t.TempDir(), "tok", "file-token\n")
	data := `
[source]
user = "default-user"
token_env = "SRC_TOKEN"
ssh_key = "/keys/default"
known_hosts = "/keys/known_hosts"
[seed]
enabled = true
user = "seed-user"
token = "seed-token"
[[mirror]]
name = "heptapod"
source = "https://foss.heptapod.net/group/project"
layout = "heptapod"
phases = "public"
rewrites = "refuse"
prune = true
source_user = "alice"
source_token_file = "` + tokFile + `"
[mirror.destination]
url = "/srv/git/p.git"
[[mirror]]
name = "defaults"
source = "ssh://hg.example.org/repo"
wild_heads = true
[mirror.destination]
url = "/srv/git/d.git"
`
	c, err := Load(writeFile(t, t.TempDir(), "c.toml", data), func(k string) (string, bool) {
		if k == "SRC_TOKEN" {
			return "env-token", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := c.Lookup("heptapod")
	if p := h.Policy; p.Layout != "heptapod" || p.Phases != "public" || p.Rewrites != "refuse" || !p.Prune || p.WildHeads {
		t.Errorf("heptapod policy = %+v", p)
	}
	if a := h.SourceAuth; a.User != "alice" || a.Token != "file-token" || a.SSHKey != "/keys/default" || a.KnownHosts != "/keys/known_hosts" {
		t.Errorf("heptapod source auth = %+v", a)
	}
	d, _ := c.Lookup("defaults")
	if a := d.SourceAuth; a.User != "default-user" || a.Token != "env-token" || !d.Policy.WildHeads || d.Policy.Layout != "" {
		t.Errorf("defaults = %+v %+v", a, d.Policy)
	}
	seed, err := c.Resolve(Push{SCM: "hg", Owner: "o", Name: "r"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if a := seed.SourceAuth; a.User != "seed-user" || a.Token != "seed-token" || a.SSHKey != "/keys/default" {
		t.Errorf("seed source auth = %+v", a)
	}
	for _, s := range []string{c.String(), fmt.Sprint(h), fmt.Sprintf("%v", h.SourceAuth)} {
		for _, secret := range []string{"file-token", "env-token", "seed-token"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows %s", s, secret)
			}
		}
	}

	for _, tt := range []struct{ toml, want string }{
		{`layout = "gitlab"`, `layout "gitlab" is not one of hg-git, heptapod`},
		{`phases = "draft"`, `phases "draft" is not one of all, public`},
		{`rewrites = "always"`, `rewrites "always" is not one of markers, refuse`},
		{`source_token = "t"`, `source_user: required with a token`},
		{"source_user = \"a:b\"\nsource_token = \"t\"", `may not hold ':'`},
		{`source_ssh_key = "/k"`, `source_known_hosts: required with an ssh key`},
		{"scm = \"git\"\nlayout = \"heptapod\"", `apply to Mercurial sources only`},
	} {
		_, err := Parse([]byte("[[mirror]]\nname = \"m\"\nsource = \"https://h/r\"\n"+tt.toml+"\n[mirror.destination]\nurl = \"/d.git\"\n"), "t.toml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.toml, err, tt.want)
		}
	}
	if _, err := Parse([]byte("[source]\nssh_key = \"/k\"\n"), "t.toml"); err == nil || !strings.Contains(err.Error(), "source.known_hosts: required") {
		t.Errorf("[source] ssh_key alone: %v", err)
	}
}

// writeFile writes data to name in dir, readable by the owner only (as
// secrets and configuration files are), and returns its path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
