// Package urlcheck decides whether a repository URL from a webhook or a
// configuration may be handed to hg, git or ssh.
//
// Policy.Check refuses, with a typed *Error, everything that could turn a URL
// into a command or an attack on the local network:
//
//   - schemes not allowed (default https only; file only with AllowFile);
//   - Git transport helpers ("ext::sh -c ...", "fd::3", any "name::address");
//   - hosts, user names or path segments beginning with "-" (they become
//     options such as -oProxyCommand=... of ssh, hg or git);
//   - credentials embedded in the URL (any user info for http(s), a password
//     for ssh);
//   - control characters, whitespace, NUL, backslashes, non-ASCII hosts;
//   - hosts not on the allowlist;
//   - loopback, link-local, private, unspecified, multicast and other
//     non-public addresses, literal or after DNS resolution (unless
//     AllowPrivate), and non-canonical IPv4 forms such as 127.1 or 0x7f.1;
//   - IPv6 zones and URLs longer than MaxLen.
//
// Check resolves names once, when it is called: hg and git resolve again when
// they connect, so a name whose DNS answer changes in between (rebinding) is
// not covered; the host allowlist is the defence against that.
package urlcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Reasons a URL is refused; *Error wraps exactly one, test with errors.Is.
var (
	ErrSyntax      = errors.New("malformed URL")
	ErrTooLong     = errors.New("URL too long")
	ErrControl     = errors.New("control character, whitespace or backslash in URL")
	ErrScheme      = errors.New("scheme not allowed")
	ErrTransport   = errors.New("transport helper URLs (name::address) are not allowed")
	ErrDash        = errors.New(`host, user or path part beginning with "-"`)
	ErrCredentials = errors.New("credentials in URL")
	ErrHost        = errors.New("host not allowed")
	ErrPrivate     = errors.New("address not public")
	ErrZone        = errors.New("IPv6 zone in URL")
	ErrResolve     = errors.New("host does not resolve")
)

// Error is a refused URL: Err is one of the Err* reasons, Detail says what
// exactly; URL is the input with any password removed, shortened.
type Error struct {
	URL    string
	Err    error
	Detail string
}

func (e *Error) Error() string {
	msg := "urlcheck: " + strconv.Quote(e.URL) + ": " + e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Resolver resolves host names; *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// DefaultMaxLen is the longest URL accepted when Policy.MaxLen is zero.
const DefaultMaxLen = 2048

// DefaultResolveTimeout bounds DNS resolution when ctx has no earlier deadline.
const DefaultResolveTimeout = 10 * time.Second

// Policy says which URLs are acceptable. The zero Policy accepts public
// https URLs on any host.
type Policy struct {
	// Schemes allowed, lower case: "https", "http", "ssh", "git", ... Empty
	// means "https" only. "file" is honoured only with AllowFile.
	Schemes []string
	// Hosts is the allowlist: exact names ("hg.example.org") or wildcards
	// ("*.example.org", one or more labels under example.org, not the apex).
	// IP literals must be listed exactly. Empty allows any host.
	Hosts []string
	// AllowPrivate accepts loopback, link-local, private and other
	// non-public addresses, and skips DNS resolution entirely.
	AllowPrivate bool
	// AllowFile accepts file: URLs and absolute local paths (tests, local
	// mirrors), whatever Schemes says.
	AllowFile bool
	// Resolver resolves host names (nil = net.DefaultResolver).
	Resolver Resolver
	// MaxLen is the longest URL accepted (0 = DefaultMaxLen).
	MaxLen int
}

// Check parses raw and returns it as a *url.URL when the policy accepts it.
// An scp-like Git address "user@host:path" is returned as
// ssh://user@host/path (what GitHub, GitLab, Bitbucket and Gitea mean by it;
// a plain sshd would read the scp form relative to the home directory). An
// absolute local path is returned as a file URL when AllowFile is set.
func (p Policy) Check(ctx context.Context, raw string) (*url.URL, error) {
	fail := func(reason error, format string, args ...any) (*url.URL, error) {
		return nil, &Error{URL: display(raw), Err: reason, Detail: fmt.Sprintf(format, args...)}
	}
	maxLen := p.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	if len(raw) > maxLen {
		return fail(ErrTooLong, "%d bytes, limit %d", len(raw), maxLen)
	}
	if raw == "" {
		return fail(ErrSyntax, "empty")
	}
	if strings.HasPrefix(raw, "-") {
		return fail(ErrDash, "the URL itself")
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		// Before parsing, which may fail on what follows for another reason.
		auth := raw[i+3:]
		if end := strings.IndexAny(auth, "/?#"); end >= 0 {
			auth = auth[:end]
		}
		user, host, hasUser := strings.Cut(auth, "@")
		if hasUser && strings.HasPrefix(user, "-") || strings.HasPrefix(host, "-") || !hasUser && strings.HasPrefix(user, "-") {
			return fail(ErrDash, "host or user %q", auth)
		}
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return fail(ErrControl, "byte %#02x at offset %d", c, i)
		}
	}
	if isTransportHelper(raw) {
		return fail(ErrTransport, "%q", raw[:strings.Index(raw, "::")+2])
	}

	u, err := p.parse(raw)
	if err != nil {
		var ue *Error
		if errors.As(err, &ue) {
			ue.URL = display(raw)
			return nil, ue
		}
		return fail(ErrSyntax, "%v", err)
	}
	if err := p.checkParsed(ctx, u); err != nil {
		err.URL = display(raw)
		return nil, err
	}
	if n := len(u.String()); n > maxLen {
		// Normalising (escaping a local path) can lengthen it.
		return fail(ErrTooLong, "%d bytes once normalised, limit %d", n, maxLen)
	}
	return u, nil
}

// isTransportHelper reports Git's "<transport>::<address>" form: URL
// scheme characters (letters, digits, '+', '-', '.') up to a "::", as git
// reads it; git hands such URLs to the helper git-remote-<transport>.
func isTransportHelper(raw string) bool {
	i := 0
	for i < len(raw) {
		c := raw[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			break
		}
		i++
	}
	return strings.HasPrefix(raw[i:], "::")
}

// parse turns raw into a URL: a URL with a scheme, an scp-like address or
// an absolute local path.
func (p Policy) parse(raw string) (*url.URL, error) {
	if strings.HasPrefix(raw, "/") {
		if !p.AllowFile {
			return nil, &Error{Err: ErrScheme, Detail: "local paths are not allowed"}
		}
		return &url.URL{Scheme: "file", Path: raw}, nil
	}
	if u, ok, err := scpLike(raw); ok {
		return u, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	if u.Scheme == "" {
		return nil, &Error{Err: ErrSyntax, Detail: "no scheme (relative paths are not allowed)"}
	}
	if u.Opaque != "" {
		return nil, &Error{Err: ErrSyntax, Detail: fmt.Sprintf("%s: URL without //", u.Scheme)}
	}
	return u, nil
}

// scpLike recognises Git's "[user@]host:path": a ':' before any '/', and
// no "://". ok reports whether raw has that form.
func scpLike(raw string) (u *url.URL, ok bool, err error) {
	if strings.Contains(raw, "://") {
		return nil, false, nil
	}
	head := raw
	if slash := strings.IndexByte(raw, '/'); slash >= 0 {
		head = raw[:slash]
	}
	// The host follows the last '@' before any '/'; a ':' in the user
	// part is a password; an IPv6 host is bracketed.
	hostStart := strings.LastIndexByte(head, '@') + 1
	from := hostStart
	if strings.HasPrefix(head[hostStart:], "[") {
		if end := strings.IndexByte(head[hostStart:], ']'); end > 0 {
			from = hostStart + end
		}
	}
	colon := strings.IndexByte(head[from:], ':')
	if colon < 0 {
		return nil, false, nil
	}
	colon += from
	hostPart, path := raw[:colon], raw[colon+1:]
	// A URL with a scheme but no "//" ("mailto:x", "file:/etc") is not
	// scp-like unless the part before ':' holds a user ("git@host:path").
	if !strings.Contains(hostPart, "@") && !strings.Contains(hostPart, ".") && !strings.HasPrefix(hostPart, "[") {
		return nil, false, nil
	}
	user := ""
	if at := strings.LastIndexByte(hostPart, '@'); at >= 0 {
		user, hostPart = hostPart[:at], hostPart[at+1:]
	}
	if strings.HasPrefix(hostPart, "[") && strings.HasSuffix(hostPart, "]") {
		hostPart = hostPart[1 : len(hostPart)-1]
	}
	if hostPart == "" {
		return nil, true, &Error{Err: ErrSyntax, Detail: "scp-like address without host"}
	}
	if path == "" {
		return nil, true, &Error{Err: ErrSyntax, Detail: "scp-like address without path"}
	}
	u = &url.URL{Scheme: "ssh", Host: hostPart, Path: "/" + strings.TrimPrefix(path, "/")}
	if strings.Contains(hostPart, ":") {
		u.Host = "[" + hostPart + "]"
	}
	if user != "" {
		if strings.Contains(user, ":") {
			return nil, true, &Error{Err: ErrCredentials, Detail: "password in scp-like address"}
		}
		u.User = url.User(user)
	}
	return u, true, nil
}

func (p Policy) checkParsed(ctx context.Context, u *url.URL) *Error {
	scheme := strings.ToLower(u.Scheme)
	if !p.schemeAllowed(scheme) {
		allowed := p.Schemes
		if len(allowed) == 0 {
			allowed = []string{"https"}
		}
		return &Error{Err: ErrScheme, Detail: fmt.Sprintf("%q (allowed: %s)", scheme, strings.Join(allowed, ", "))}
	}
	u.Scheme = scheme
	if err := checkPath(u); err != nil {
		return err
	}
	if scheme == "file" {
		if u.User != nil {
			return &Error{Err: ErrCredentials, Detail: "user info in file URL"}
		}
		if h := u.Host; h != "" && !strings.EqualFold(h, "localhost") {
			return &Error{Err: ErrHost, Detail: fmt.Sprintf("file URL with host %q", h)}
		}
		if !strings.HasPrefix(u.Path, "/") {
			return &Error{Err: ErrSyntax, Detail: "file URL without absolute path"}
		}
		return nil
	}
	if err := checkUser(u, scheme); err != nil {
		return err
	}
	host, err := p.checkHost(u)
	if err != nil {
		return err
	}
	return p.checkAddress(ctx, host)
}

func (p Policy) schemeAllowed(scheme string) bool {
	if scheme == "file" {
		return p.AllowFile
	}
	if len(p.Schemes) == 0 {
		return scheme == "https"
	}
	for _, s := range p.Schemes {
		if strings.EqualFold(s, scheme) {
			return true
		}
	}
	return false
}

// checkPath refuses path segments (raw and decoded) beginning with "-",
// ".." segments, and decoded control characters.
func checkPath(u *url.URL) *Error {
	for _, p := range []string{u.EscapedPath(), u.Path, u.RawQuery, u.Fragment} {
		for i := 0; i < len(p); i++ {
			if c := p[i]; c < ' ' || c == 0x7f || c == '\\' {
				return &Error{Err: ErrControl, Detail: fmt.Sprintf("decoded byte %#02x", c)}
			}
		}
	}
	for _, p := range []string{u.EscapedPath(), u.Path} {
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, "-") {
				return &Error{Err: ErrDash, Detail: fmt.Sprintf("path segment %q", seg)}
			}
			if seg == ".." {
				return &Error{Err: ErrSyntax, Detail: `".." path segment`}
			}
		}
	}
	if strings.HasPrefix(u.Fragment, "-") {
		return &Error{Err: ErrDash, Detail: "fragment"}
	}
	return nil
}

// checkUser allows no user info over http(s), and a plain user name (no
// password) over ssh and other schemes.
func checkUser(u *url.URL, scheme string) *Error {
	if u.User == nil {
		return nil
	}
	if scheme == "http" || scheme == "https" {
		return &Error{Err: ErrCredentials, Detail: "user info in an http(s) URL: pass credentials separately"}
	}
	if _, has := u.User.Password(); has {
		return &Error{Err: ErrCredentials, Detail: "password in URL"}
	}
	name := u.User.Username()
	if name == "" {
		return &Error{Err: ErrSyntax, Detail: "empty user name"}
	}
	if strings.HasPrefix(name, "-") {
		return &Error{Err: ErrDash, Detail: fmt.Sprintf("user %q", name)}
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return &Error{Err: ErrSyntax, Detail: fmt.Sprintf("character %q in user name", c)}
		}
	}
	return nil
}

// checkHost validates the host syntax and the allowlist, and returns the
// host name, lower case, without brackets or trailing dot.
func (p Policy) checkHost(u *url.URL) (string, *Error) {
	if strings.Contains(u.Host, "%") {
		return "", &Error{Err: ErrZone, Detail: "percent sign in host (IPv6 zone or escape)"}
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", &Error{Err: ErrSyntax, Detail: "no host"}
	}
	if strings.HasPrefix(host, "-") {
		return "", &Error{Err: ErrDash, Detail: fmt.Sprintf("host %q", host)}
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", &Error{Err: ErrSyntax, Detail: fmt.Sprintf("port %q", port)}
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", &Error{Err: ErrSyntax, Detail: "empty port"}
	}
	host = strings.TrimSuffix(host, ".")
	if _, err := netip.ParseAddr(host); err != nil {
		if err := checkHostName(host); err != nil {
			return "", err
		}
	} else if strings.Contains(host, ":") && !strings.HasPrefix(u.Host, "[") {
		return "", &Error{Err: ErrSyntax, Detail: "IPv6 address without brackets"}
	}
	if len(p.Hosts) > 0 && !p.hostAllowed(host) {
		return "", &Error{Err: ErrHost, Detail: fmt.Sprintf("%q is not on the allowlist", host)}
	}
	return host, nil
}

// checkHostName accepts DNS names of letters, digits, '-' and '_' (labels
// not beginning or ending with '-'), and refuses a numeric last label, which
// resolvers read as a non-canonical IPv4 address (127.1, 0x7f.1, 2130706433).
func checkHostName(host string) *Error {
	if len(host) > 253 {
		return &Error{Err: ErrSyntax, Detail: "host name longer than 253 bytes"}
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return &Error{Err: ErrSyntax, Detail: fmt.Sprintf("bad label %q in host %q", l, host)}
		}
		if strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return &Error{Err: ErrDash, Detail: fmt.Sprintf("label %q in host %q", l, host)}
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return &Error{Err: ErrSyntax, Detail: fmt.Sprintf("character %q in host %q", c, host)}
			}
		}
	}
	last := labels[len(labels)-1]
	if numeric(last) {
		return &Error{Err: ErrSyntax, Detail: fmt.Sprintf("host %q looks like a non-canonical IP address", host)}
	}
	return nil
}

// numeric reports a decimal, octal or hex number (as inet_aton reads them).
func numeric(s string) bool {
	if strings.HasPrefix(s, "0x") {
		s = s[2:]
		if s == "" {
			return true
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (p Policy) hostAllowed(host string) bool {
	for _, h := range p.Hosts {
		h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+rest) && len(host) > len(rest)+1 {
				return true
			}
			continue
		}
		if host == h {
			return true
		}
	}
	return false
}

// checkAddress refuses non-public addresses, literal or resolved.
func (p Policy) checkAddress(ctx context.Context, host string) *Error {
	if p.AllowPrivate {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if why := nonPublic(a); why != "" {
			return &Error{Err: ErrPrivate, Detail: fmt.Sprintf("%s is %s", a, why)}
		}
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return &Error{Err: ErrPrivate, Detail: fmt.Sprintf("%s is loopback", host)}
	}
	res := p.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultResolveTimeout)
		defer cancel()
	}
	addrs, err := res.LookupIPAddr(ctx, host)
	if err != nil {
		return &Error{Err: ErrResolve, Detail: err.Error()}
	}
	if len(addrs) == 0 {
		return &Error{Err: ErrResolve, Detail: fmt.Sprintf("no address for %s", host)}
	}
	for _, ia := range addrs {
		a, ok := netip.AddrFromSlice(ia.IP)
		a = a.Unmap()
		if !ok {
			return &Error{Err: ErrResolve, Detail: fmt.Sprintf("bad address for %s", host)}
		}
		if ia.Zone != "" {
			return &Error{Err: ErrPrivate, Detail: fmt.Sprintf("%s resolves to zoned address %s%%%s", host, a, ia.Zone)}
		}
		if why := nonPublic(a); why != "" {
			return &Error{Err: ErrPrivate, Detail: fmt.Sprintf("%s resolves to %s, which is %s", host, a, why)}
		}
	}
	return nil
}

var (
	sharedNAT  = netip.MustParsePrefix("100.64.0.0/10")  // carrier-grade NAT
	thisNet    = netip.MustParsePrefix("0.0.0.0/8")      // "this network"
	benchmark  = netip.MustParsePrefix("198.18.0.0/15")  // benchmarking
	reserved   = netip.MustParsePrefix("240.0.0.0/4")    // reserved, broadcast
	ietf       = netip.MustParsePrefix("192.0.0.0/24")   // IETF protocol assignments
	nat64      = netip.MustParsePrefix("64:ff9b::/96")   // NAT64: embeds an IPv4 address
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48") // local-use NAT64
	sixToFour  = netip.MustParsePrefix("2002::/16")      // 6to4: embeds an IPv4 address
	teredo     = netip.MustParsePrefix("2001::/32")      // Teredo
	docv6      = netip.MustParsePrefix("2001:db8::/32")  // documentation
	discard    = netip.MustParsePrefix("100::/64")       // discard-only
	siteLocal  = netip.MustParsePrefix("fec0::/10")      // deprecated site-local
	v4Compat   = netip.MustParsePrefix("::/96")          // deprecated IPv4-compatible
)

// nonPublic says why an address is not a public unicast one ("" if it is).
func nonPublic(a netip.Addr) string {
	if a.Zone() != "" {
		return "zoned"
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		if why := nonPublic(netip.AddrFrom4([4]byte(b[12:]))); why != "" {
			return "NAT64 of an address that is " + why
		}
	}
	if a.Is6() && sixToFour.Contains(a) {
		b := a.As16()
		if why := nonPublic(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
			return "6to4 of an address that is " + why
		}
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a.IsPrivate():
		return "private"
	case a.Is4() && (sharedNAT.Contains(a) || thisNet.Contains(a) || benchmark.Contains(a) || reserved.Contains(a) || ietf.Contains(a)):
		return "reserved"
	case a.Is6() && (nat64Local.Contains(a) || teredo.Contains(a) || docv6.Contains(a) || discard.Contains(a) || siteLocal.Contains(a) || v4Compat.Contains(a)):
		return "reserved"
	}
	return ""
}

// display returns raw for messages: without a password, shortened.
func display(raw string) string {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + 3
	} else if strings.HasPrefix(raw, "//") {
		start = 2
	}
	rest := raw[start:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 && strings.Contains(rest[:at], ":") {
		user, _, _ := strings.Cut(rest[:at], ":")
		raw = raw[:start] + user + ":xxxxx@" + rest[at+1:]
	}
	if len(raw) > 200 {
		raw = raw[:200] + "..."
	}
	return raw
}
