package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/synchroniser/synchroniser/internal/mirror"
)

// ErrNoMirror means a push concerns a repository no mirror is configured
// for (and the seed mapping is off or does not apply).
var ErrNoMirror = errors.New("no mirror is configured for this repository")

// Push is what Resolve needs to know of a webhook push (hook.PushEvent
// carries these fields).
type Push struct {
	SCM        string // "hg", "git" or ""
	Repository string // provider's "owner/slug"
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
	scm := mc.SCM
	if scm == "" {
		scm = mirror.SCMHg
	}
	tip := mc.TipBranch
	if tip == "" {
		tip = "master"
	}
	return mirror.Mirror{
		Name:   mc.Name,
		SCM:    scm,
		Source: mc.Source,
		Dest: mirror.Destination{
			URL: d.URL, Forge: d.Forge, Owner: d.Owner, Project: d.Project, APIURL: d.APIURL,
			Token: tok.Value(), SSHKey: sshKey, KnownHosts: known,
		},
		Policy: mirror.RefPolicy{
			TipBranch: tip, Refs: append([]string(nil), mc.Refs...),
			NamedBranches: mc.NamedBranches, Tags: tags, Force: mc.Force,
		},
		Poll: mc.Poll,
	}
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
	if user == "" {
		user = owner
	}
	if project == "" {
		project = slug
	}
	if user == "" || project == "" {
		return mirror.Mirror{}, fmt.Errorf("%w: the payload names no repository owner and slug", ErrNoMirror)
	}
	if !ownerRE.MatchString(user) || len(user) > 100 {
		return mirror.Mirror{}, fmt.Errorf("invalid destination user %q", user)
	}
	if !ownerRE.MatchString(project) || len(project) > 100 || strings.HasSuffix(project, ".git") {
		return mirror.Mirror{}, fmt.Errorf("invalid destination project %q", project)
	}
	source := p.CloneURL
	if c.Seed.SourceHost != "" && source != "" {
		if u, err := url.Parse(source); err == nil {
			h, _ := url.Parse(c.Seed.SourceHost)
			u.Scheme, u.Host = h.Scheme, h.Host
			source = u.String()
		}
	}
	if source == "" {
		return mirror.Mirror{}, fmt.Errorf("%w: the payload names no source URL", ErrNoMirror)
	}
	name := mirror.NameFor(source)
	if !strings.EqualFold(user, owner) || !strings.EqualFold(project, slug) {
		name = mirror.NameFor(source + "/" + user + "/" + project)
		if n := mirror.NameFor(source); len(n) < len(name) {
			name = n + "--" + strings.TrimPrefix(name, n+"-")
		}
	}
	pol := mirror.DefaultPolicy()
	return mirror.Mirror{
		Name:   name,
		SCM:    mirror.SCMHg,
		Source: source,
		Dest: mirror.Destination{
			URL:   strings.TrimRight(c.Seed.GitHost, "/") + "/" + user + "/" + project + ".git",
			Forge: c.Seed.Forge, Owner: user, Project: project, APIURL: c.Seed.APIURL,
			Token: c.Destination.Token.Value(), SSHKey: c.Destination.SSHKey, KnownHosts: c.Destination.KnownHosts,
		},
		Policy: pol,
	}, nil
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
