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
		// A URL's password in a word never survives.
		for _, word := range strings.Fields(s) {
			i := strings.Index(word, "://")
			if i < 0 {
				continue
			}
			rest := word[i+3:]
			if end := strings.IndexAny(rest, "/?#"); end >= 0 {
				rest = rest[:end]
			}
			if at := strings.LastIndexByte(rest, '@'); at > 0 {
				if _, pw, ok := strings.Cut(rest[:at], ":"); ok && len(pw) >= 4 && !strings.ContainsAny(pw, "/?#@%:*x") &&
					strings.Contains(out, ":"+pw+"@") {
					t.Fatalf("RedactText(%q) = %q keeps the password", s, out)
				}
			}
		}
	})
}
