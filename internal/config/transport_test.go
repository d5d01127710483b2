package config

import (
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/mirror"
)

// TestTransport: [tools] transport is native by default, a mirror's own
// setting wins, SYNCHRONISER_TRANSPORT overrides the file, and a name that
// is not native or hg is refused in both places.
func TestTransport(t *testing.T) {
	t.Parallel()
	const mirrors = "[[mirror]]\nname = \"own\"\nsource = \"s\"\ntransport = \"hg\"\n[mirror.destination]\nurl = \"u\"\n" +
		"[[mirror]]\nname = \"inherits\"\nsource = \"s\"\n[mirror.destination]\nurl = \"u\"\n"
	c, err := Parse([]byte(mirrors), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]mirror.Transport{"own": mirror.TransportHg, "inherits": mirror.TransportNative, "unknown": mirror.TransportNative} {
		if got := c.Transport(name); got != want {
			t.Errorf("Transport(%s) = %q, want %q", name, got, want)
		}
	}
	if Default().Tools.Transport != "native" {
		t.Errorf("default tools.transport = %q", Default().Tools.Transport)
	}

	c, err = Load(writeFile(t, t.TempDir(), "c.toml", "[tools]\ntransport = \"native\"\n"+mirrors), env(map[string]string{"SYNCHRONISER_TRANSPORT": "hg"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Transport("inherits") != mirror.TransportHg {
		t.Errorf("SYNCHRONISER_TRANSPORT=hg: Transport(inherits) = %q", c.Transport("inherits"))
	}

	for _, tc := range []struct{ src, want string }{
		{"[tools]\ntransport = \"python\"", `tools.transport: "python" is not one of native, hg`},
		{"[tools]\ntransport = \"\"", "tools.transport"},
		{"[[mirror]]\nname = \"a\"\nsource = \"s\"\ntransport = \"git\"\n[mirror.destination]\nurl = \"u\"", `mirror "a": transport "git" is not one of native, hg`},
	} {
		if _, err := Parse([]byte(tc.src), "t.toml"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to mention %q", tc.src, err, tc.want)
		}
	}
}

// TestNeedsHg: hg is required by the hg transport, the hg-git converter
// or local sources, in [tools] or in one mirror; not by the defaults.
func TestNeedsHg(t *testing.T) {
	t.Parallel()
	const m = "[[mirror]]\nname = \"a\"\nsource = \"s\"\n%s\n[mirror.destination]\nurl = \"u\"\n"
	for src, want := range map[string]bool{
		"":                                false,
		"[tools]\ntransport = \"hg\"":     true,
		"[tools]\nconverter = \"hg-git\"": true,
		"[source]\nallow_file = true":     true,
		strings.Replace(m, "%s", "", 1):   false,
		strings.Replace(m, "%s", "transport = \"hg\"", 1):     true,
		strings.Replace(m, "%s", "converter = \"hg-git\"", 1): true,
	} {
		c, err := Parse([]byte(src), "t.toml")
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if c.NeedsHg() != want {
			t.Errorf("%q: NeedsHg = %v, want %v", src, !want, want)
		}
	}
}
