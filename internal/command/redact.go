package command

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Redact returns the URL raw with any password removed, and for URLs other
// than ssh:// the user name too, for logs and error messages. What is not
// a URL is returned as it is, unless it holds something that looks like
// "scheme://user:pw@host": then that userinfo is replaced with "xxxxx".
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(raw, "@") && strings.Contains(raw, "://") {
			return "(unparsable URL)"
		}
		if u != nil && strings.Contains(raw, "@") {
			// No userinfo to url.Parse ("ss/h://u:pw@host" is a path to it,
			// "a:://u:pw@h" opaque), but maybe to a reader of the log: scrub
			// what looks like userinfo.
			return redactAuthorities(raw)
		}
		return raw
	}
	pw, _ := u.User.Password()
	if u.Scheme == "ssh" && u.User.Username() != "" {
		u.User = url.User(u.User.Username()) // the ssh user is no secret; a password is
	} else {
		u.User = nil // https://TOKEN@host: the user may be the secret
	}
	out := u.String()
	if len(pw) >= minScrubbed {
		// The same text elsewhere in the URL (a path, a fragment) is the
		// secret too, wherever it stands.
		out = strings.ReplaceAll(out, pw, "xxxxx")
	}
	return out
}

// minScrubbed is the shortest password Redact also removes from the rest
// of its URL (a shorter one would take ordinary letters with it).
const minScrubbed = 4

// RedactText hides secrets (each replaced by "***") and the userinfo of
// every URL (replaced by "xxxxx") in s, a message a program wrote.
//
// URLs go first: a secret holding "//" or ':' would otherwise, once
// replaced, break the "://" that marks the URL whose password follows it.
func RedactText(s string, secrets ...string) string {
	s = redactURLWords(s)
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// redactURLWords replaces the userinfo of every URL-like word in s.
func redactURLWords(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	for s != "" {
		i := strings.IndexAny(s, " \t\r\n")
		if i < 0 {
			i = len(s)
		}
		word := s[:i]
		if strings.Contains(word, "://") && strings.Contains(word, "@") {
			word = redactAuthorities(word)
		}
		b.WriteString(word)
		s = s[i:]
		j := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(" \t\r\n", r) })
		if j < 0 {
			j = len(s)
		}
		b.WriteString(s[:j])
		s = s[j:]
	}
	return b.String()
}

// redactAuthorities replaces the userinfo of every "scheme://user:pw@host"
// look-alike in s with "xxxxx", and of every scheme-relative
// "//user:pw@host" too (a reader of the log would take it for one).
// A password found there is removed wherever else it stands in s, as
// Redact does.
func redactAuthorities(s string) string {
	var b strings.Builder
	var passwords []string
	for {
		i := strings.Index(s, "//")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i+2])
		s = s[i+2:]
		end := strings.IndexAny(s, "/?#")
		if end < 0 {
			end = len(s)
		}
		if at := strings.LastIndexByte(s[:end], '@'); at >= 0 {
			if _, pw, ok := strings.Cut(s[:at], ":"); ok && len(pw) >= minScrubbed {
				passwords = append(passwords, pw)
			}
			b.WriteString("xxxxx")
			s = s[at:]
		}
	}
	out := b.String()
	for _, pw := range passwords {
		out = strings.ReplaceAll(out, pw, "xxxxx")
	}
	return out
}

var shellSafePath = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)

// CheckShellPath refuses a file path that is going into a command line a
// shell will read (GIT_SSH_COMMAND, hg's ui.ssh): it must be absolute and
// made of letters, digits, '.', '_', '-' and '/' only, no part starting
// with '-'.
func CheckShellPath(p string) error {
	if !shellSafePath.MatchString(p) || strings.Contains(p, "/-") {
		return fmt.Errorf("want an absolute path of letters, digits, '.', '_', '-' and '/', have %q", Clip(p, 200))
	}
	return nil
}

// CheckArgs refuses positional arguments a program could read as options
// (a leading '-'), empty ones and ones with control characters.
func CheckArgs(what string, args ...string) error {
	for _, a := range args {
		if a == "" || strings.HasPrefix(a, "-") || strings.ContainsFunc(a, IsControl) {
			return fmt.Errorf("bad %s %q", what, Clip(RedactText(a), 100))
		}
	}
	return nil
}

// IsControl reports whether c is an ASCII control character.
func IsControl(c rune) bool { return c < 0x20 || c == 0x7f }

// Clip shortens s to at most n bytes for a message.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
