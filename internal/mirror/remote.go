package mirror

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// CheckDestination checks that dest can be reached and is a Git repository
// (git ls-remote), for destinations no forge API describes: BadRequest when
// the repository does not exist or the URL is not allowed, Permanent when
// credentials are refused, Transient for network faults, Internal when git
// is missing.
func (s *Syncer) CheckDestination(ctx context.Context, dest Destination) error {
	dest.URL = s.absLocal(dest.URL)
	if err := s.checkDest(dest); err != nil {
		return err
	}
	if _, err := s.gitRunner(dest).LsRemote(ctx, dest.URL); err != nil {
		return classify("ls-remote", destSide, err)
	}
	return nil
}

// checkMirror makes m's local source and destination absolute, and
// refuses what the Syncer does not allow before op ("sync", "adopt") takes
// the mirror's cache.
func (s *Syncer) checkMirror(op string, m *Mirror) error {
	m.Source, m.Dest.URL = s.absLocal(m.Source), s.absLocal(m.Dest.URL)
	if err := s.checkSource(*m); err != nil {
		return err
	}
	if err := s.checkDest(m.Dest); err != nil {
		return err
	}
	if s.CacheDir == "" {
		return errorf(Internal, op, "no cache directory configured")
	}
	return nil
}

// checkSource refuses source URLs the Syncer does not allow.
func (s *Syncer) checkSource(m Mirror) error {
	scheme, err := s.scheme(m.Source)
	if err != nil {
		return &Error{Op: "source", Class: BadRequest, Err: err}
	}
	if scheme == "scp" && m.SCM == scm.Hg {
		return errorf(BadRequest, "source", "%s: not a Mercurial URL", Redact(m.Source))
	}
	return nil
}

// checkDest refuses destinations the Syncer does not allow, and ssh ones
// without a key and known_hosts.
func (s *Syncer) checkDest(d Destination) error {
	scheme, err := s.scheme(d.URL)
	if err != nil {
		return &Error{Op: "destination", Class: BadRequest, Err: err}
	}
	if (scheme == "ssh" || scheme == "scp") && (d.SSHKey == "" || d.KnownHosts == "") {
		return errorf(BadRequest, "destination", "%s: an ssh destination needs an SSH key and a known_hosts file", d)
	}
	return nil
}

// scheme returns the transport of raw ("https", "http", "ssh", "scp" for
// git's user@host:path, "file" for file:// and local paths) or an error
// when the Syncer does not allow it.
func (s *Syncer) scheme(raw string) (string, error) {
	if raw == "" || strings.HasPrefix(raw, "-") || strings.ContainsAny(raw, "\x00\n\r") {
		return "", fmt.Errorf("invalid URL %q", Redact(raw))
	}
	scheme := "file"
	if i := strings.Index(raw, "://"); i > 0 {
		u, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("invalid URL %s", Redact(raw))
		}
		scheme = strings.ToLower(u.Scheme)
		if scheme != "file" && u.Host == "" {
			return "", fmt.Errorf("URL %s has no host", Redact(raw))
		}
	} else if at := strings.Index(raw, ":"); at > 0 && !strings.Contains(raw[:at], "/") {
		scheme = "scp"
	}
	switch scheme {
	case "https", "ssh", "scp":
		return scheme, nil
	case "http":
		if s.AllowHTTP {
			return scheme, nil
		}
	case "file":
		if s.AllowFile {
			return scheme, nil
		}
		return "", fmt.Errorf("%s: local paths and file:// URLs are not allowed", Redact(raw))
	}
	return "", fmt.Errorf("%s: scheme %q is not allowed", Redact(raw), scheme)
}

// absLocal makes a local path absolute when local paths are allowed (git
// and hg must not resolve them against their working directory).
func (s *Syncer) absLocal(raw string) string {
	if !s.AllowFile || raw == "" || strings.HasPrefix(raw, "-") {
		return raw
	}
	if sc, err := s.scheme(raw); err != nil || sc != "file" || strings.Contains(raw, "://") {
		return raw
	}
	if abs, err := filepath.Abs(raw); err == nil {
		return abs
	}
	return raw
}

// sourceCredentials turns a mirror's source credentials into hg's (key
// files made absolute: hg runs elsewhere).
func sourceCredentials(a SourceAuth) hg.Credentials {
	abs := func(p string) string {
		if p == "" {
			return ""
		}
		if q, err := filepath.Abs(p); err == nil {
			return q
		}
		return p
	}
	return hg.Credentials{User: a.User, Token: a.Token, SSHKey: abs(a.SSHKey), KnownHosts: abs(a.KnownHosts)}
}
