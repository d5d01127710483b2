package command

import (
	"strings"
	"testing"
)

func FuzzRedactText(f *testing.F) {
	f.Add("abort: https://alice:s3cret@host/r not found", "s3cret")
	f.Add("fatal: unable to access 'ssh://git:pw12@h/x'", "")
	f.Add("no url", "no")
	f.Fuzz(func(t *testing.T, s, secret string) {
		out := RedactText(s, secret)
		if len(secret) >= 4 && !strings.Contains(secret, "*") && !strings.Contains("***", secret) && strings.Contains(out, secret) && !strings.Contains(strings.ReplaceAll(s, secret, ""), secret) {
			t.Fatalf("RedactText(%q, %q) = %q keeps the secret", s, secret, out)
		}
		// The password of a URL in the input is in no URL of the output
		// without secrets (the secrets' "***" can join words into new URL
		// look-alikes; and the same text outside a URL's authority is not
		// a URL's password: only the secrets given are removed there).
		urlsOnly := RedactText(s)
		passwords := map[string]bool{}
		for _, word := range strings.Fields(s) {
			for _, pw := range urlPasswords(word) {
				if len(pw) >= 4 && !strings.ContainsAny(pw, "/?#@%:*x") {
					passwords[pw] = true
				}
			}
		}
		for _, word := range strings.Fields(urlsOnly) {
			for _, pw := range urlPasswords(word) {
				if passwords[pw] {
					t.Fatalf("RedactText(%q) = %q keeps the password %q", s, urlsOnly, pw)
				}
			}
		}
	})
}

func FuzzRedact(f *testing.F) {
	f.Add("https://x-access-token:s3cret@github.com/o/r.git")
	f.Add("ssh://git:s3cret@example.org/r")
	f.Add("/srv/r.git")
	f.Fuzz(func(t *testing.T, raw string) {
		out := Redact(raw)
		// A URL's password never survives.
		if pw, ok := urlPassword(raw); ok && len(pw) >= 4 && !strings.ContainsAny(pw, "/?#@%") &&
			strings.Contains(out, ":"+pw+"@") {
			t.Fatalf("Redact(%q) = %q keeps the password", raw, out)
		}
	})
}

// urlPassword returns the password in the authority of the first URL in s
// (after "://", up to the last '@' before any of "/?#").
// urlPasswords returns the password of every "scheme://user:pw@host"
// look-alike in s.
func urlPasswords(s string) []string {
	var pws []string
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			return pws
		}
		if pw, ok := urlPassword(s[i:]); ok {
			pws = append(pws, pw)
		}
		s = s[i+3:]
	}
}

func urlPassword(s string) (string, bool) {
	i := strings.Index(s, "://")
	if i < 0 {
		return "", false
	}
	rest := s[i+3:]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end] // the authority
	}
	at := strings.LastIndexByte(rest, '@')
	if at <= 0 {
		return "", false
	}
	_, pw, ok := strings.Cut(rest[:at], ":")
	return pw, ok
}
