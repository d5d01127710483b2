package mirror

import (
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/synchroniser/synchroniser/internal/command"
	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// Mirror is one source repository kept in sync with one Git destination.
type Mirror struct {
	Name   string   // unique, [A-Za-z0-9._-]+ (see ValidName)
	SCM    scm.Kind // scm.Hg or scm.Git
	Source string   // URL (https, http, ssh, file when allowed) or local path
	// SourceAuth authenticates to a private source (hg over HTTPS or ssh).
	SourceAuth SourceAuth
	Dest       Destination
	Policy     RefPolicy
	Poll       time.Duration // 0 = no polling
}

// Destination is where a mirror is pushed.
type Destination struct {
	URL            string     // git URL pushed to (https, http, ssh, file) or local bare repository path
	Forge          forge.Kind // forge.KindPlain (ls-remote check only), KindGitHub, KindGitLab, KindGitea, …
	Owner, Project string     // on the forge
	APIURL         string     // forge API base (GitHub Enterprise etc.)
	Token          string     `json:"-"` // secret: never logged or shown
	SSHKey         string     // private key file, for ssh destinations
	KnownHosts     string     // known_hosts file, for ssh destinations
}

// SourceAuth holds a private source's credentials: User and Token for
// HTTPS (HTTP Basic, as hgweb behind a proxy and Heptapod's personal access
// tokens use it), SSHKey with KnownHosts for ssh:// sources. They never
// reach a command line, a log or an error.
type SourceAuth struct {
	User       string
	Token      string `json:"-"` // secret: never logged or shown
	SSHKey     string // private key file, for ssh sources
	KnownHosts string // known_hosts file, for ssh sources (required with SSHKey)
}

// IsZero reports whether no credential is set.
func (a SourceAuth) IsZero() bool { return a == SourceAuth{} }

// String describes the credentials without the token.
func (a SourceAuth) String() string {
	tok := ""
	if a.Token != "" {
		tok = " token=[redacted]"
	}
	return fmt.Sprintf("{user=%s%s ssh_key=%s known_hosts=%s}", a.User, tok, a.SSHKey, a.KnownHosts)
}

// GoString keeps %#v from printing the token.
func (a SourceAuth) GoString() string { return "mirror.SourceAuth" + a.String() }

// LogValue keeps the token out of logs.
func (a SourceAuth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", a.User), slog.Bool("token", a.Token != ""),
		slog.String("ssh_key", a.SSHKey), slog.String("known_hosts", a.KnownHosts))
}

// String returns the destination URL without any user information, safe to
// show and log.
func (d Destination) String() string { return Redact(d.URL) }

// LogValue keeps the token out of logs.
func (d Destination) LogValue() slog.Value { return slog.StringValue(d.String()) }

// RefPolicy says which refs of the source become which refs of the destination.
type RefPolicy struct {
	TipBranch     string   // "master" (default) or "main": tip's branch when there is no bookmark
	Refs          []string // globs (path.Match) over full ref names, empty = all
	NamedBranches bool     // named-branch heads → refs/heads/branches/<name>
	Tags          bool     // push tags (DefaultPolicy sets it)
	// Force allows any non-fast-forward update and deletion lease checks
	// aside (force = true).
	Force bool
	// Layout names how hg heads, bookmarks and topics become Git refs:
	// LayoutHgGit (default, "" too) or LayoutHeptapod.
	Layout string
	// Phases says which changesets are exported: PhasesAll (default, ""
	// too: every visible non-secret changeset) or PhasesPublic.
	Phases string
	// WildHeads pushes, in the hg-git layout, each head no other ref
	// reaches as refs/heads/wild/NODE.
	WildHeads bool
	// Rewrites says which non-fast-forward updates are followed:
	// RewritesMarkers (default, "" too: those the source's obsolescence
	// markers prove, while the destination holds the lease) or
	// RewritesRefuse (none, unless Force).
	Rewrites string
	// Prune deletes refs this mirror pushed that the source no longer has
	// (while the destination still holds what was pushed).
	Prune bool
}

// Ref layouts, phase modes and rewrite policies.
const (
	LayoutHgGit     = "hg-git"
	LayoutHeptapod  = "heptapod"
	PhasesAll       = "all"
	PhasesPublic    = "public"
	RewritesMarkers = "markers"
	RewritesRefuse  = "refuse"
)

// Layouts, PhaseModes and RewriteModes list the accepted values (the first
// is the default).
var (
	Layouts      = []string{LayoutHgGit, LayoutHeptapod}
	PhaseModes   = []string{PhasesAll, PhasesPublic}
	RewriteModes = []string{RewritesMarkers, RewritesRefuse}
)

// DefaultPolicy is the policy of a mirror that says nothing: tip to master,
// tags pushed, no named branches, no force.
func DefaultPolicy() RefPolicy { return RefPolicy{TipBranch: "master", Tags: true} }

func (p RefPolicy) layout() string   { return orDefault(p.Layout, LayoutHgGit) }
func (p RefPolicy) phases() string   { return orDefault(p.Phases, PhasesAll) }
func (p RefPolicy) rewrites() string { return orDefault(p.Rewrites, RewritesMarkers) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// maxNameLen bounds a mirror name (it is a directory name).
const maxNameLen = 200

// ValidName reports whether name can name a mirror: 1 to 200 characters out
// of [A-Za-z0-9._-], not "." or "..". Names are used as cache directory
// names, so nothing else is allowed.
func ValidName(name string) bool {
	if name == "" || len(name) > maxNameLen || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// NameFor derives a valid mirror name from a source URL or path: its host
// and path with every other byte replaced by "-", e.g.
// "https://hg.example.org/repo" → "hg.example.org-repo". User information,
// query and fragment are dropped.
func NameFor(source string) string {
	s := source
	if u, err := url.Parse(source); err == nil && u.Scheme != "" && u.Scheme != "file" && len(u.Scheme) > 1 {
		s = u.Hostname() + "/" + u.Path
		if p := u.Port(); p != "" {
			s = u.Hostname() + "-" + p + "/" + u.Path
		}
	} else {
		p := strings.TrimPrefix(source, "file://")
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		s = p
	}
	s = strings.TrimSuffix(strings.TrimRight(s, "/"), ".git")
	b := make([]byte, 0, len(s))
	dash := true // no leading dash
	for i := 0; i < len(s); i++ {
		c := s[i]
		if nameByte(c) && c != '-' {
			if c == '.' && dash {
				continue // no ".." nor leading "."
			}
			b = append(b, c)
			dash = false
			continue
		}
		if !dash {
			b = append(b, '-')
			dash = true
		}
	}
	name := strings.TrimRight(string(b), "-.")
	if len(name) > maxNameLen {
		name = strings.Trim(name[len(name)-maxNameLen:], "-.")
	}
	if !ValidName(name) {
		return "mirror"
	}
	return name
}

// Redact returns raw with any password removed, and for URLs other than
// ssh:// the user name too, for logs and error messages (command.Redact).
func Redact(raw string) string { return command.Redact(raw) }

// Validate checks the fields Sync relies on.
func (m *Mirror) Validate() error {
	if !ValidName(m.Name) {
		return errorf(BadRequest, "validate", "invalid mirror name %q: want 1-%d characters of [A-Za-z0-9._-]", m.Name, maxNameLen)
	}
	switch m.SCM {
	case scm.Hg, scm.Git:
	default:
		return errorf(BadRequest, "validate", "mirror %s: unsupported scm %q (want hg or git)", m.Name, m.SCM)
	}
	if m.Source == "" {
		return errorf(BadRequest, "validate", "mirror %s: no source", m.Name)
	}
	if m.Dest.URL == "" {
		return errorf(BadRequest, "validate", "mirror %s: no destination", m.Name)
	}
	for _, g := range m.Policy.Refs {
		if _, err := pathMatch(g, "refs/heads/x"); err != nil {
			return errorf(BadRequest, "validate", "mirror %s: bad ref glob %q: %v", m.Name, g, err)
		}
	}
	if t := m.Policy.TipBranch; t != "" && !validRefName("refs/heads/"+t) {
		return errorf(BadRequest, "validate", "mirror %s: invalid tip branch %q", m.Name, t)
	}
	for _, c := range []struct {
		key, v string
		ok     []string
	}{{"layout", m.Policy.Layout, Layouts}, {"phases", m.Policy.Phases, PhaseModes}, {"rewrites", m.Policy.Rewrites, RewriteModes}} {
		if c.v != "" && !slices.Contains(c.ok, c.v) {
			return errorf(BadRequest, "validate", "mirror %s: %s %q is not one of %s", m.Name, c.key, c.v, strings.Join(c.ok, ", "))
		}
	}
	if a := m.SourceAuth; a.SSHKey != "" && a.KnownHosts == "" {
		return errorf(BadRequest, "validate", "mirror %s: a source ssh key needs a known_hosts file", m.Name)
	}
	if strings.ContainsAny(m.SourceAuth.User, ":\x00\n\r") {
		return errorf(BadRequest, "validate", "mirror %s: invalid source user name", m.Name)
	}
	return nil
}

// LogValue logs a mirror without its secrets.
func (m Mirror) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", m.Name), slog.String("scm", string(m.SCM)),
		slog.String("source", Redact(m.Source)), slog.String("dest", m.Dest.String()))
}

// String names the mirror for messages.
func (m Mirror) String() string {
	return fmt.Sprintf("%s (%s %s → %s)", m.Name, m.SCM, Redact(m.Source), m.Dest)
}
