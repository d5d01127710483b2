package urlcheck

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

// FuzzCheck checks that Check never panics and that what it accepts is
// accepted again unchanged and carries none of the refused forms.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"https://bitbucket.org/elevenbits/hub", "git@github.com:o/r.git", "ssh://-oProxyCommand=x/",
		"ext::sh -c id", "http://[::1]/", "file:///etc", "/srv/r", "https://u:p@h/", "http://127.1/",
	} {
		f.Add(s)
	}
	policies := []Policy{
		{Schemes: []string{"https", "http", "ssh"}, AllowPrivate: true, AllowFile: true},
		{Schemes: []string{"https", "ssh"}, Hosts: []string{"*.example.org", "github.com"}, Resolver: resolver},
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, p := range policies {
			u, err := p.Check(context.Background(), raw)
			if err != nil {
				if u != nil {
					t.Fatal("URL with error")
				}
				if pu, perr := url.Parse(raw); perr == nil && pu.User != nil {
					if pw, has := pu.User.Password(); has && len(pw) > 2 && strings.Contains(err.Error(), ":"+pw+"@") {
						t.Fatalf("message shows the password: %v", err)
					}
				}
				continue
			}
			s := u.String()
			if strings.HasPrefix(u.Hostname(), "-") || strings.HasPrefix(s, "-") {
				t.Fatalf("accepted %q with a dash host: %q", raw, s)
			}
			if i := strings.Index(s, "::"); i >= 0 && !strings.Contains(s[:i], "/") {
				t.Fatalf("accepted transport helper %q", s)
			}
			if _, has := u.User.Password(); has {
				t.Fatalf("accepted a password in %q", raw)
			}
			for _, c := range s {
				if c <= ' ' || c == 0x7f {
					t.Fatalf("accepted control character in %q", s)
				}
			}
			u2, err := p.Check(context.Background(), s)
			if err != nil {
				t.Fatalf("accepted %q as %q, which is then refused: %v", raw, s, err)
			}
			if u2.String() != s {
				t.Fatalf("not idempotent: %q -> %q -> %q", raw, s, u2)
			}
		}
	})
}
