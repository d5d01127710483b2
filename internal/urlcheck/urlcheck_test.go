package urlcheck

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// fakeResolver answers from a table: the only stand-in here, since tests
// must not depend on the machine's DNS.
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		ip, zone, _ := strings.Cut(s, "%")
		out = append(out, net.IPAddr{IP: net.ParseIP(ip), Zone: zone})
	}
	return out, nil
}

var resolver = fakeResolver{
	"bitbucket.org":       {"104.192.141.1"},
	"github.com":          {"140.82.121.4", "2a00:1450:4001:80e::200e"},
	"hg.example.org":      {"93.184.216.34"},
	"a.b.example.org":     {"93.184.216.34"},
	"localtest.me":        {"127.0.0.1"},
	"rebind.example.org":  {"93.184.216.34", "10.1.2.3"},
	"metadata.example":    {"169.254.169.254"},
	"mapped.example.org":  {"::ffff:127.0.0.1"},
	"zoned.example.org":   {"fe80::1%eth0"},
	"nat64.example.org":   {"64:ff9b::a00:1"},
	"sixto4.example.org":  {"2002:7f00:1::1"},
	"cgnat.example.org":   {"100.64.0.1"},
	"mcast.example.org":   {"224.0.0.1"},
	"ula.example.org":     {"fd00::1"},
	"empty.example.org":   {},
	"git.example.org":     {"93.184.216.34"},
	"under_score.example": {"93.184.216.34"},
}

func TestCheck(t *testing.T) {
	t.Parallel()
	public := Policy{Schemes: []string{"https", "http", "ssh"}, Resolver: resolver}
	tests := []struct {
		name   string
		policy Policy
		raw    string
		want   string // normalised URL when accepted
		err    error  // reason when refused
		detail string // part of the message
	}{
		// Accepted.
		{name: "https", policy: public, raw: "https://bitbucket.org/elevenbits/hub", want: "https://bitbucket.org/elevenbits/hub"},
		{name: "http", policy: public, raw: "http://hg.example.org/repo", want: "http://hg.example.org/repo"},
		{name: "hg branch fragment", policy: public, raw: "https://hg.example.org/repo#stable", want: "https://hg.example.org/repo#stable"},
		{name: "port", policy: public, raw: "https://hg.example.org:8443/r", want: "https://hg.example.org:8443/r"},
		{name: "upper-case scheme and host", policy: public, raw: "HTTPS://HG.Example.ORG/r", want: "https://HG.Example.ORG/r"},
		{name: "trailing dot", policy: public, raw: "https://hg.example.org./r", want: "https://hg.example.org./r"},
		{name: "ssh user", policy: public, raw: "ssh://hg@bitbucket.org/owner/repo", want: "ssh://hg@bitbucket.org/owner/repo"},
		{name: "scp-like", policy: public, raw: "git@github.com:owner/repo.git", want: "ssh://git@github.com/owner/repo.git"},
		{name: "scp-like IPv6", policy: Policy{Schemes: []string{"ssh"}, AllowPrivate: true}, raw: "git@[::1]:repo.git", want: "ssh://git@[::1]/repo.git"},
		{name: "scp-like IPv6 public check", policy: public, raw: "git@[::1]:repo.git", err: ErrPrivate},
		{name: "IPv4-compatible loopback", policy: public, raw: "http://[::127.0.0.1]/", err: ErrPrivate, detail: "reserved"},
		{name: "scp-like no user", policy: public, raw: "github.com:owner/repo.git", want: "ssh://github.com/owner/repo.git"},
		{name: "underscore host", policy: public, raw: "https://under_score.example/r", want: "https://under_score.example/r"},
		{name: "public IP literal", policy: public, raw: "https://93.184.216.34/r", want: "https://93.184.216.34/r"},
		{name: "public IPv6 literal", policy: public, raw: "https://[2a00:1450:4001:80e::200e]/r", want: "https://[2a00:1450:4001:80e::200e]/r"},
		{name: "allowlist exact", policy: Policy{Hosts: []string{"hg.example.org"}, Resolver: resolver}, raw: "https://hg.example.org/r", want: "https://hg.example.org/r"},
		{name: "allowlist wildcard", policy: Policy{Hosts: []string{"*.example.org"}, Resolver: resolver}, raw: "https://a.b.example.org/r", want: "https://a.b.example.org/r"},
		{name: "private allowed", policy: Policy{Schemes: []string{"http"}, AllowPrivate: true}, raw: "http://127.0.0.1:8000/repo", want: "http://127.0.0.1:8000/repo"},
		{name: "localhost allowed", policy: Policy{Schemes: []string{"http"}, AllowPrivate: true}, raw: "http://localhost:8000/repo", want: "http://localhost:8000/repo"},
		{name: "file allowed", policy: Policy{AllowFile: true}, raw: "file:///srv/hg/repo", want: "file:///srv/hg/repo"},
		{name: "local path allowed", policy: Policy{AllowFile: true}, raw: "/srv/hg/repo", want: "file:///srv/hg/repo"},
		{name: "file localhost", policy: Policy{AllowFile: true}, raw: "file://localhost/srv/r", want: "file://localhost/srv/r"},
		{name: "dash inside segment", policy: public, raw: "https://hg.example.org/my-repo/a-b", want: "https://hg.example.org/my-repo/a-b"},

		// Options smuggled through hosts, users and paths.
		{name: "bare option", policy: public, raw: "-oProxyCommand=touch /tmp/pwned", err: ErrDash},
		{name: "ssh host option", policy: public, raw: "ssh://-oProxyCommand=x/", err: ErrDash},
		{name: "ssh host option with path", policy: public, raw: "ssh://-oProxyCommand=touch%20x/repo", err: ErrDash},
		{name: "ssh user option", policy: public, raw: "ssh://-oProxyCommand=x@github.com/r", err: ErrDash},
		{name: "scp-like host option", policy: public, raw: "-oProxyCommand=x:repo", err: ErrDash},
		{name: "scp-like user option", policy: public, raw: "-x@github.com:repo", err: ErrDash},
		{name: "path segment option", policy: public, raw: "https://hg.example.org/-u/repo", err: ErrDash},
		{name: "escaped path option", policy: public, raw: "https://hg.example.org/%2Du/repo", err: ErrDash},
		{name: "scp path option", policy: public, raw: "git@github.com:-u", err: ErrDash},
		{name: "fragment option", policy: public, raw: "https://hg.example.org/r#-rtip", err: ErrDash},
		{name: "host label dash", policy: public, raw: "https://a.-b.example.org/r", err: ErrDash},

		// Transport helpers.
		{name: "ext", policy: public, raw: "ext::sh -c touch% /tmp/pwned", err: ErrControl},
		{name: "ext no space", policy: public, raw: "ext::sh%20-c%20id", err: ErrTransport},
		{name: "fd", policy: public, raw: "fd::17", err: ErrTransport},
		{name: "foo::bar", policy: public, raw: "foo::bar", err: ErrTransport},
		{name: "helper before URL", policy: public, raw: "foo::https://hg.example.org/r", err: ErrTransport},
		{name: "transport scheme", policy: public, raw: "ext://hg.example.org/r", err: ErrScheme},

		// Schemes.
		{name: "http not allowed by default", policy: Policy{Resolver: resolver}, raw: "http://hg.example.org/r", err: ErrScheme, detail: `"http" (allowed: https)`},
		{name: "ssh not allowed by default", policy: Policy{Resolver: resolver}, raw: "ssh://hg@hg.example.org/r", err: ErrScheme},
		{name: "scp-like not allowed without ssh", policy: Policy{Resolver: resolver}, raw: "git@github.com:o/r", err: ErrScheme},
		{name: "file not allowed", policy: public, raw: "file:///etc", err: ErrScheme},
		{name: "file listed but not allowed", policy: Policy{Schemes: []string{"file"}}, raw: "file:///etc", err: ErrScheme},
		{name: "local path not allowed", policy: public, raw: "/etc/passwd", err: ErrScheme},
		{name: "relative path", policy: Policy{AllowFile: true}, raw: "repo", err: ErrSyntax},
		{name: "file with host", policy: Policy{AllowFile: true}, raw: "file://evil.example/etc", err: ErrHost},
		{name: "file dash", policy: Policy{AllowFile: true}, raw: "/srv/-x", err: ErrDash},
		{name: "opaque", policy: public, raw: "https:hg.example.org", err: ErrSyntax},
		{name: "javascript", policy: public, raw: "javascript:alert(1)", err: ErrSyntax},
		{name: "gopher", policy: public, raw: "gopher://hg.example.org/", err: ErrScheme},

		// Credentials.
		{name: "https userinfo", policy: public, raw: "https://user:pw@hg.example.org/", err: ErrCredentials},
		{name: "https user only", policy: public, raw: "https://user@hg.example.org/", err: ErrCredentials},
		{name: "ssh password", policy: public, raw: "ssh://user:pw@hg.example.org/r", err: ErrCredentials},
		{name: "scp password", policy: public, raw: "user:pw@github.com:r", err: ErrCredentials},

		// Control characters and whitespace.
		{name: "NUL", policy: public, raw: "https://hg.example.org/r\x00", err: ErrControl},
		{name: "newline", policy: public, raw: "https://hg.example.org/r\nX-Injected: 1", err: ErrControl},
		{name: "space", policy: public, raw: "https://hg.example.org/a b", err: ErrControl},
		{name: "tab", policy: public, raw: "\thttps://hg.example.org/", err: ErrControl},
		{name: "DEL", policy: public, raw: "https://hg.example.org/\x7f", err: ErrControl},
		{name: "escaped NUL", policy: public, raw: "https://hg.example.org/r%00", err: ErrControl},
		{name: "escaped newline", policy: public, raw: "https://hg.example.org/r%0a", err: ErrControl},
		{name: "backslash", policy: public, raw: `https://evil.example\@hg.example.org/`, err: ErrControl},
		{name: "non-ASCII host", policy: public, raw: "https://hg.exämple.org/", err: ErrSyntax},
		{name: "dotdot", policy: public, raw: "https://hg.example.org/a/../b", err: ErrSyntax},
		{name: "empty", policy: public, raw: "", err: ErrSyntax},
		{name: "too long", policy: public, raw: "https://hg.example.org/" + strings.Repeat("a", DefaultMaxLen), err: ErrTooLong},
		{name: "custom max", policy: Policy{MaxLen: 20, Resolver: resolver}, raw: "https://hg.example.org/r", err: ErrTooLong},
		{name: "bad port", policy: public, raw: "https://hg.example.org:99999/r", err: ErrSyntax},
		{name: "port zero", policy: public, raw: "https://hg.example.org:0/r", err: ErrSyntax},
		{name: "no host", policy: public, raw: "https:///r", err: ErrSyntax},

		// Hosts and addresses.
		{name: "not on allowlist", policy: Policy{Hosts: []string{"bitbucket.org"}, Resolver: resolver}, raw: "https://hg.example.org/r", err: ErrHost, detail: "not on the allowlist"},
		{name: "wildcard excludes apex", policy: Policy{Hosts: []string{"*.example.org"}, Resolver: resolver}, raw: "https://example.org/r", err: ErrHost},
		{name: "wildcard suffix trick", policy: Policy{Hosts: []string{"*.example.org"}, Resolver: resolver}, raw: "https://evilexample.org/r", err: ErrHost},
		{name: "allowlisted but private", policy: Policy{Hosts: []string{"localtest.me"}, Resolver: resolver}, raw: "https://localtest.me/r", err: ErrPrivate},
		{name: "loopback v4", policy: public, raw: "http://127.0.0.1/", err: ErrPrivate, detail: "loopback"},
		{name: "loopback v6", policy: public, raw: "http://[::1]/", err: ErrPrivate, detail: "loopback"},
		{name: "metadata", policy: public, raw: "http://169.254.169.254/", err: ErrPrivate, detail: "link-local"},
		{name: "private 10/8", policy: public, raw: "http://10.0.0.1/", err: ErrPrivate, detail: "private"},
		{name: "private 192.168", policy: public, raw: "https://192.168.1.1/", err: ErrPrivate},
		{name: "private 172.16", policy: public, raw: "https://172.16.0.1/", err: ErrPrivate},
		{name: "unspecified", policy: public, raw: "http://0.0.0.0/", err: ErrPrivate},
		{name: "unspecified v6", policy: public, raw: "http://[::]/", err: ErrPrivate},
		{name: "mapped loopback literal", policy: public, raw: "http://[::ffff:127.0.0.1]/", err: ErrPrivate},
		{name: "multicast literal", policy: public, raw: "http://239.1.1.1/", err: ErrPrivate},
		{name: "broadcast", policy: public, raw: "http://255.255.255.255/", err: ErrPrivate},
		{name: "localhost name", policy: public, raw: "http://localhost/", err: ErrPrivate},
		{name: "sub.localhost", policy: public, raw: "http://a.localhost/", err: ErrPrivate},
		{name: "resolves to loopback", policy: public, raw: "https://localtest.me/r", err: ErrPrivate, detail: "localtest.me resolves to 127.0.0.1, which is loopback"},
		{name: "one of several private", policy: public, raw: "https://rebind.example.org/r", err: ErrPrivate},
		{name: "resolves to metadata", policy: public, raw: "https://metadata.example/r", err: ErrPrivate},
		{name: "resolves to mapped loopback", policy: public, raw: "https://mapped.example.org/r", err: ErrPrivate, detail: "127.0.0.1, which is loopback"},
		{name: "resolves to zoned", policy: public, raw: "https://zoned.example.org/r", err: ErrPrivate},
		{name: "resolves to NAT64 private", policy: public, raw: "https://nat64.example.org/r", err: ErrPrivate, detail: "NAT64"},
		{name: "resolves to 6to4 loopback", policy: public, raw: "https://sixto4.example.org/r", err: ErrPrivate, detail: "6to4"},
		{name: "resolves to CGNAT", policy: public, raw: "https://cgnat.example.org/r", err: ErrPrivate},
		{name: "resolves to multicast", policy: public, raw: "https://mcast.example.org/r", err: ErrPrivate},
		{name: "resolves to ULA", policy: public, raw: "https://ula.example.org/r", err: ErrPrivate},
		{name: "does not resolve", policy: public, raw: "https://nx.example.org/r", err: ErrResolve},
		{name: "resolves to nothing", policy: public, raw: "https://empty.example.org/r", err: ErrResolve},
		{name: "IPv6 zone", policy: public, raw: "http://[fe80::1%25eth0]/", err: ErrZone},
		{name: "IPv6 zone allowed private", policy: Policy{Schemes: []string{"http"}, AllowPrivate: true}, raw: "http://[fe80::1%25eth0]/", err: ErrZone},
		{name: "short IPv4", policy: public, raw: "http://127.1/", err: ErrSyntax, detail: "non-canonical IP"},
		{name: "decimal IPv4", policy: public, raw: "http://2130706433/", err: ErrSyntax},
		{name: "hex IPv4", policy: public, raw: "http://0x7f.1/", err: ErrSyntax},
		{name: "octal IPv4", policy: public, raw: "http://0177.0.0.1/", err: ErrSyntax},
		{name: "escaped host", policy: public, raw: "https://hg%2eexample.org/", err: ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := tt.policy.Check(context.Background(), tt.raw)
			if tt.err == nil {
				if err != nil {
					t.Fatalf("Check(%q) = %v", tt.raw, err)
				}
				if u.String() != tt.want {
					t.Fatalf("Check(%q) = %q, want %q", tt.raw, u, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%q) = %q, want error %v", tt.raw, u, tt.err)
			}
			if u != nil {
				t.Errorf("URL returned with error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, want *urlcheck.Error", err, err)
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("Check(%q) = %v, want reason %v", tt.raw, err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("message %q lacks %q", err, tt.detail)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("message %q shows a password", err)
			}
		})
	}
}

func TestCheckResolverContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The real resolver honours the cancelled context instead of hanging.
	_, err := Policy{}.Check(ctx, "https://nonexistent.invalid/r")
	if !errors.Is(err, ErrResolve) {
		t.Fatalf("err = %v, want ErrResolve", err)
	}
}

func TestErrorRedactsPassword(t *testing.T) {
	t.Parallel()
	_, err := Policy{}.Check(context.Background(), "https://bob:hunter2@hg.example.org/r")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
	_, err = Policy{}.Check(context.Background(), "https://bob:hunter2@hg.example.org:bad/r")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}
