package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// ErrNoMirror means a push concerns a repository no mirror is configured
// for (and the seed mapping is off or does not apply).
var ErrNoMirror = errors.New("no mirror is configured for this repository")

// Push is what Resolve needs to know of a webhook push (hook.PushEvent
// carries these fields).
type Push struct {
	SCM        scm.Kind // scm.Hg, scm.Git or "" (unknown)
	Repository string   // provider's "owner/slug"
	Owner      string
	Name       string // slug
	CloneURL   string // source URL, already checked against the source policy
}

// Mirrors returns the configured mirrors, with defaults applied and the
// default destination credentials filled in where a mirror has none.
func (c *Config) Mirrors() []mirror.Mirror {
	out := make([]mirror.Mirror, 0, len(c.Mirror))
	for i := range c.Mirror {
		out = append(out, c.toMirror(&c.Mirror[i]))
	}
	return out
}

// Lookup returns the configured mirror called name.
func (c *Config) Lookup(name string) (mirror.Mirror, bool) {
	for i := range c.Mirror {
		if c.Mirror[i].Name == name {
			return c.toMirror(&c.Mirror[i]), true
		}
	}
	return mirror.Mirror{}, false
}

// MirrorConfig returns the [[mirror]] table called name, for the settings
// a mirror.Mirror does not carry (converter, repository).
func (c *Config) MirrorConfig(name string) (*MirrorConfig, bool) {
	for i := range c.Mirror {
		if c.Mirror[i].Name == name {
			return &c.Mirror[i], true
		}
	}
	return nil, false
}

// Converter returns the converter ("native" or "hg-git") mirror name uses.
func (c *Config) Converter(name string) string {
	if mc, ok := c.MirrorConfig(name); ok && mc.Converter != "" {
		return mc.Converter
	}
	return c.Tools.Converter
}

func (c *Config) toMirror(mc *MirrorConfig) mirror.Mirror {
	d := mc.Destination
	tok := d.Token
	if !tok.IsSet() && !d.App.Enabled() {
		tok = c.Destination.Token
	}
	sshKey, known := d.SSHKey, d.KnownHosts
	if sshKey == "" {
		sshKey = c.Destination.SSHKey
	}
	if known == "" {
		known = c.Destination.KnownHosts
	}
	tags := true
	if mc.Tags != nil {
		tags = *mc.Tags
	}
	kind := mc.SCM
	if kind == "" {
		kind = scm.Hg
	}
	tip := mc.TipBranch
	if tip == "" {
		tip = "master"
	}
	return mirror.Mirror{
		Name:       mc.Name,
		SCM:        kind,
		Source:     mc.Source,
		SourceAuth: sourceAuth(mc.sourceCredentials(), c.Source.SourceCredentials),
		Dest: mirror.Destination{
			URL: d.URL, Forge: d.Forge, Owner: d.Owner, Project: d.Project, APIURL: d.APIURL,
			Token: tok.Value(), SSHKey: sshKey, KnownHosts: known,
		},
		Policy: mirror.RefPolicy{
			TipBranch: tip, Refs: append([]string(nil), mc.Refs...),
			NamedBranches: mc.NamedBranches, Tags: tags, Force: mc.Force,
			Layout: mc.Layout, Phases: mc.Phases, WildHeads: mc.WildHeads, Rewrites: mc.Rewrites, Prune: mc.Prune,
		},
		Poll: mc.Poll,
	}
}

// sourceAuth returns own credentials, or def's where own has none (a
// token and user, or an ssh key and known_hosts, go together).
func sourceAuth(own, def SourceCredentials) mirror.SourceAuth {
	a := mirror.SourceAuth{User: own.User, Token: own.Token.Value(), SSHKey: own.SSHKey, KnownHosts: own.KnownHosts}
	if a.User == "" && a.Token == "" {
		a.User, a.Token = def.User, def.Token.Value()
	}
	if a.SSHKey == "" {
		a.SSHKey, a.KnownHosts = def.SSHKey, def.KnownHosts
	}
	return a
}

// Resolve finds the mirror a push concerns. user and project, when not
// empty, override the destination (the /synchronise/{user}/{project}/ form).
//
// A configured mirror matches when its source URL or its repository equals
// the push's (and, with an override, when its destination is that
// user/project). Otherwise, with [seed] enabled, the seed mapping gives
// owner/slug → <git_host>/<user>/<project>.git, user defaulting to the
// owner and project to the slug. Errors wrap ErrNoMirror or say which name
// is invalid; both are the request's fault.
func (c *Config) Resolve(p Push, user, project string) (mirror.Mirror, error) {
	src := normURL(p.CloneURL)
	for i := range c.Mirror {
		mc := &c.Mirror[i]
		match := (src != "" && normURL(mc.Source) == src) ||
			(mc.Repository != "" && p.Repository != "" && strings.EqualFold(mc.Repository, p.Repository))
		if !match {
			continue
		}
		if (user == "" || strings.EqualFold(user, mc.Destination.Owner)) &&
			(project == "" || strings.EqualFold(project, mc.Destination.Project)) {
			return c.toMirror(mc), nil
		}
	}
	if !c.Seed.Enabled {
		return mirror.Mirror{}, fmt.Errorf("%w: %s", ErrNoMirror, describe(p))
	}
	return c.seedMirror(p, user, project)
}

// seedMirror applies the seed-compatible mapping.
func (c *Config) seedMirror(p Push, user, project string) (mirror.Mirror, error) {
	owner, slug := p.Owner, p.Name
	if (owner == "" || slug == "") && p.Repository != "" {
		if o, s, ok := strings.Cut(p.Repository, "/"); ok {
			owner, slug = o, s
		}
	}
	if owner == "" || slug == "" {
		return mirror.Mirror{}, fmt.Errorf("%w: the payload names no repository owner and slug", ErrNoMirror)
	}
	if p.SCM != "" && p.SCM != scm.Hg {
		return mirror.Mirror{}, fmt.Errorf("%w: %s/%s is a %s repository; the seed mapping mirrors Mercurial only", ErrNoMirror, owner, slug, p.SCM)
	}
	if !seedNameRE.MatchString(owner) || !seedNameRE.MatchString(slug) {
		return mirror.Mirror{}, fmt.Errorf("invalid source repository %q", owner+"/"+slug)
	}
	if p.CloneURL != "" && !sameHost(p.CloneURL, c.Seed.SourceHost) {
		return mirror.Mirror{}, fmt.Errorf("%w: %s is not on the seed source host %s", ErrNoMirror, mirror.Redact(p.CloneURL), c.Seed.SourceHost)
	}
	if user == "" {
		user = owner
	}
	if project == "" {
		project = slug
	}
	if !ownerRE.MatchString(user) || len(user) > 100 {
		return mirror.Mirror{}, fmt.Errorf("invalid destination user %q", user)
	}
	if !ownerRE.MatchString(project) || len(project) > 100 || strings.HasSuffix(project, ".git") {
		return mirror.Mirror{}, fmt.Errorf("invalid destination project %q", project)
	}
	m := c.seed(owner, slug, user, project)
	if !mirror.ValidName(m.Name) {
		return mirror.Mirror{}, fmt.Errorf("%w: names too long for a mirror", ErrNoMirror)
	}
	return m, nil
}

// seed builds the seed mirror owner/slug → user/project.
func (c *Config) seed(owner, slug, user, project string) mirror.Mirror {
	return mirror.Mirror{
		Name:       seedName(owner, slug, user, project),
		SCM:        scm.Hg,
		Source:     strings.TrimRight(c.Seed.SourceHost, "/") + "/" + owner + "/" + slug,
		SourceAuth: sourceAuth(c.Seed.SourceCredentials, c.Source.SourceCredentials),
		Dest: mirror.Destination{
			URL:   strings.TrimRight(c.Seed.GitHost, "/") + "/" + user + "/" + project + ".git",
			Forge: c.Seed.Forge, Owner: user, Project: project, APIURL: c.Seed.APIURL,
			Token: c.Destination.Token.Value(), SSHKey: c.Destination.SSHKey, KnownHosts: c.Destination.KnownHosts,
		},
		Policy: mirror.DefaultPolicy(),
	}
}

// seedNameRE is what a source owner or slug may hold (Bitbucket's rules,
// loosely); these characters are also those of mirror names.
var seedNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// seedName names a seed mirror reversibly (see ResolveName): the four names
// joined by ".", each with "_" written "__" and "." written "_d"; the
// destination part is left out when it equals the source's.
func seedName(owner, slug, user, project string) string {
	esc := strings.NewReplacer("_", "__", ".", "_d")
	parts := []string{esc.Replace(owner), esc.Replace(slug)}
	if user != owner || project != slug {
		parts = append(parts, esc.Replace(user), esc.Replace(project))
	}
	return strings.Join(parts, ".")
}

// parseSeedName reverses seedName.
func parseSeedName(name string) (owner, slug, user, project string, ok bool) {
	parts := strings.Split(name, ".")
	if len(parts) != 2 && len(parts) != 4 {
		return "", "", "", "", false
	}
	for i, p := range parts {
		var b strings.Builder
		for j := 0; j < len(p); j++ {
			if p[j] != '_' {
				b.WriteByte(p[j])
				continue
			}
			if j+1 == len(p) {
				return "", "", "", "", false
			}
			j++
			switch p[j] {
			case '_':
				b.WriteByte('_')
			case 'd':
				b.WriteByte('.')
			default:
				return "", "", "", "", false
			}
		}
		if b.Len() == 0 {
			return "", "", "", "", false
		}
		parts[i] = b.String()
	}
	if len(parts) == 2 {
		parts = append(parts, parts[0], parts[1])
	}
	return parts[0], parts[1], parts[2], parts[3], true
}

// ResolveName returns the mirror called name: a configured mirror, or (with
// [seed] enabled) the seed mirror the name stands for. Workers use it to find
// the mirror of a queued job, in whatever process queued it.
func (c *Config) ResolveName(name string) (mirror.Mirror, bool) {
	if m, ok := c.Lookup(name); ok {
		return m, true
	}
	if !c.Seed.Enabled {
		return mirror.Mirror{}, false
	}
	owner, slug, user, project, ok := parseSeedName(name)
	if !ok || !seedNameRE.MatchString(owner) || !seedNameRE.MatchString(slug) ||
		!ownerRE.MatchString(user) || !ownerRE.MatchString(project) {
		return mirror.Mirror{}, false
	}
	return c.seed(owner, slug, user, project), true
}

// sameHost reports whether two URLs name the same host and port.
func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return strings.EqualFold(ua.Hostname(), ub.Hostname()) && portOf(ua) == portOf(ub)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch u.Scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	case "ssh":
		return "22"
	}
	return ""
}

func describe(p Push) string {
	if p.Repository != "" {
		return p.Repository
	}
	return mirror.Redact(p.CloneURL)
}

// normURL reduces a repository URL to lower-case host and path without
// user information, trailing slashes or ".git", for matching.
func normURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.TrimSuffix(strings.TrimRight(raw, "/"), ".git")
	}
	return strings.ToLower(u.Host) + strings.TrimSuffix(strings.TrimRight(u.Path, "/"), ".git")
}
