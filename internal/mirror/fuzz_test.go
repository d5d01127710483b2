package mirror

import (
	"strings"
	"testing"
)

func FuzzRedact(f *testing.F) {
	f.Add("https://x-access-token:s3cret@github.com/o/r.git")
	f.Add("ssh://git:s3cret@example.org/r")
	f.Add("/srv/r.git")
	f.Fuzz(func(t *testing.T, raw string) {
		out := Redact(raw)
		// A URL's password never survives.
		if i := strings.Index(raw, "://"); i >= 0 {
			rest := raw[i+3:]
			if end := strings.IndexAny(rest, "/?#"); end >= 0 {
				rest = rest[:end] // the authority
			}
			if at := strings.LastIndexByte(rest, '@'); at > 0 {
				if _, pw, ok := strings.Cut(rest[:at], ":"); ok && len(pw) >= 4 && !strings.ContainsAny(pw, "/?#@%") &&
					strings.Contains(out, ":"+pw+"@") {
					t.Fatalf("Redact(%q) = %q keeps the password", raw, out)
				}
			}
		}
	})
}

func FuzzValidRefName(f *testing.F) {
	f.Add("refs/heads/master")
	f.Add("refs/heads/a..b")
	f.Add("refs/tags/v1.0^{}")
	f.Fuzz(func(t *testing.T, ref string) {
		if !validRefName(ref) {
			return
		}
		// What it accepts, git's rules accept too.
		for _, bad := range []string{"..", "//", "@{", "/.", ".lock/", "\\", " ", "~", "^", ":", "?", "*", "["} {
			if strings.Contains(ref, bad) {
				t.Fatalf("validRefName(%q) accepted %q", ref, bad)
			}
		}
		if !strings.HasPrefix(ref, "refs/") || strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".lock") || strings.HasSuffix(ref, ".") {
			t.Fatalf("validRefName(%q) = true", ref)
		}
	})
}

func FuzzScheme(f *testing.F) {
	f.Add("https://example.org/r")
	f.Add("git@example.org:o/r.git")
	f.Add("file:///srv/r")
	f.Add("-oProxyCommand=x")
	s := &Syncer{}
	f.Fuzz(func(t *testing.T, raw string) {
		sc, err := s.scheme(raw)
		if err != nil {
			return
		}
		switch sc {
		case "https", "ssh", "scp":
		default:
			t.Fatalf("scheme(%q) = %q allowed with AllowFile and AllowHTTP off", raw, sc)
		}
		if strings.HasPrefix(raw, "-") {
			t.Fatalf("scheme(%q) allowed an option-like URL", raw)
		}
	})
}
