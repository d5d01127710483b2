package hgwire

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// Caps are a server's capabilities: name → value ("" when it has none).
type Caps map[string]string

// maxCapsSize bounds a capabilities answer.
const maxCapsSize = 1 << 20

// ParseCaps parses a capabilities answer: space-separated names, each
// optionally "=value".
func ParseCaps(s string) (Caps, error) {
	if len(s) > maxCapsSize {
		return nil, fmt.Errorf("hgwire: capabilities of %d bytes", len(s))
	}
	c := Caps{}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		if k == "" {
			return nil, fmt.Errorf("hgwire: capability %q has no name", limitio.Clip(f, 60))
		}
		c[k] = v
	}
	return c, nil
}

// Has reports whether the capability is advertised.
func (c Caps) Has(name string) bool { _, ok := c[name]; return ok }

// List returns a comma-separated capability value as a list.
func (c Caps) List(name string) []string {
	v, ok := c[name]
	if !ok || v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// Bundle2 returns the server's bundle2 capabilities (the bundle2= value).
func (c Caps) Bundle2() (Bundle2Caps, error) {
	v, ok := c["bundle2"]
	if !ok {
		return nil, nil
	}
	return ParseBundle2Caps(v)
}

// Bundle2Caps are bundle2 capabilities: name → values.
type Bundle2Caps map[string][]string

// ParseBundle2Caps decodes a url-quoted bundle2 capabilities blob:
// "\n"-separated "name=v1,v2" lines, each element url-quoted.
func ParseBundle2Caps(quoted string) (Bundle2Caps, error) {
	if len(quoted) > maxCapsSize {
		return nil, fmt.Errorf("hgwire: bundle2 capabilities of %d bytes", len(quoted))
	}
	blob, err := url.PathUnescape(quoted)
	if err != nil {
		return nil, fmt.Errorf("hgwire: bundle2 capabilities: %v", err)
	}
	caps := Bundle2Caps{}
	for _, line := range strings.Split(blob, "\n") {
		if line == "" {
			continue
		}
		k, v, hasV := strings.Cut(line, "=")
		key, err := url.PathUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("hgwire: bundle2 capability %q: %v", limitio.Clip(line, 60), err)
		}
		if key == "" {
			return nil, fmt.Errorf("hgwire: bundle2 capability %q has no name", limitio.Clip(line, 60))
		}
		var vals []string
		if hasV {
			for _, e := range strings.Split(v, ",") {
				val, err := url.PathUnescape(e)
				if err != nil {
					return nil, fmt.Errorf("hgwire: bundle2 capability %q: %v", limitio.Clip(line, 60), err)
				}
				vals = append(vals, val)
			}
		}
		caps[key] = vals
	}
	return caps, nil
}

// Has reports whether name is advertised, with value v when v is given.
func (c Bundle2Caps) Has(name string, v ...string) bool {
	vals, ok := c[name]
	if !ok {
		return false
	}
	for _, want := range v {
		found := false
		for _, x := range vals {
			if x == want {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Encode returns the url-quoted blob form of c, keys sorted.
func (c Bundle2Caps) Encode() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		line := quote(k)
		if vals := c[k]; len(vals) > 0 {
			q := make([]string, len(vals))
			for i, v := range vals {
				q[i] = quote(v)
			}
			line += "=" + strings.Join(q, ",")
		}
		lines = append(lines, line)
	}
	return quote(strings.Join(lines, "\n"))
}

// quote is Python's urllib.parse.quote with safe="/" (what hg uses).
func quote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ClientBundle2Caps are the bundle2 capabilities this package advertises:
// only what it parses.
func ClientBundle2Caps() Bundle2Caps {
	return Bundle2Caps{
		"HG20":        nil,
		"bookmarks":   nil,
		"changegroup": {"02", "03"},
		"error":       {"abort", "unsupportedcontent", "pushraced", "pushkey"},
		"listkeys":    nil,
		"phases":      {"heads"},
		"obsmarkers":  {"V1"},
	}
}
