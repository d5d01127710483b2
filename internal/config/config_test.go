package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, "127.0.0.1:8080"},
		{"data_dir", c.DataDir, "./data"},
		{"database", c.DatabaseKind(), "sqlite"},
		{"sqlite path", c.SQLitePath(), filepath.Join("data", "synchroniser.db")},
		{"log.format", c.Log.Format, "text"},
		{"log.level", c.LogLevel(), slog.LevelInfo},
		{"max_body", c.Limits.MaxBody, Size(1 << 20)},
		{"max_header_bytes", c.Limits.MaxHeaderBytes, Size(64 << 10)},
		{"concurrent_syncs", c.Limits.ConcurrentSyncs, 4},
		{"subprocess_timeout", c.Limits.SubprocessTimeout, 30 * time.Minute},
		{"legacy.enabled", c.Legacy.Enabled, true},
		{"legacy.wait", c.Legacy.Wait, false},
		{"seed.enabled", c.Seed.Enabled, false},
		{"seed.git_host", c.Seed.GitHost, "https://github.com"},
		{"tools.hg", c.Tools.Hg, "hg"},
		{"tools.converter", c.Tools.Converter, "native"},
		{"schemes", strings.Join(c.Source.Schemes, ","), "https,ssh"},
		{"providers", len(c.EnabledProviders()), 0},
		{"mirrors", len(c.Mirror), 0},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if d := Default(); d.Listen != c.Listen {
		t.Errorf("Default().Listen = %q", d.Listen)
	}
}

// TestExampleFile parses the example shipped in examples/.
func TestExampleFile(t *testing.T) {
	t.Parallel()
	e := env(map[string]string{"GITHUB_TOKEN": "ghp_example", "SYNCHRONISER_HOOK_SECRET": "s3cret", "CLICK_TOKEN": "tok",
		"GITLAB_TOKEN": "glpat-example", "HEPTAPOD_TOKEN": "hpt-example"})
	c, err := Load("../../examples/synchroniser.toml", e)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Mirror) < 2 {
		t.Fatalf("example defines %d mirrors, want at least 2", len(c.Mirror))
	}
	if !c.Seed.Enabled || c.Seed.Forge != "github" {
		t.Errorf("seed = %+v", c.Seed)
	}
	if len(c.EnabledProviders()) == 0 {
		t.Error("example enables no provider")
	}
	if c.Destination.Token.Value() != "ghp_example" {
		t.Errorf("destination token not read from token_env")
	}
	for _, m := range c.Mirror {
		if m.TipBranch == "" || m.Tags == nil || m.SCM == "" {
			t.Errorf("mirror %s: defaults not filled: %+v", m.Name, m)
		}
	}
	// The private Heptapod mirror.
	h, ok := c.Lookup("heptapod-secret")
	if !ok || h.Policy.Layout != "heptapod" || h.SourceAuth.User == "" || h.SourceAuth.Token != "hpt-example" || !h.Policy.Prune {
		t.Errorf("heptapod-secret = %+v (%v)", h, ok)
	}
}

func TestFullFile(t *testing.T) {
	t.Parallel()
	tokFile := writeFile(t, t.TempDir(), "token", "file-token\n")
	src := fmt.Sprintf(`
listen = "0.0.0.0:9000"
data_dir = "/var/lib/synchroniser"
database_url = "postgres://u:pw@db/synchroniser"
admin_token_file = %q
[log]
format = "json"
level = "debug"
[bot]
name = "Bot"
login = "sync-bot"
[destination]
token_env = "TOK"
[source]
schemes = ["https", "http"]
hosts = ["bitbucket.org", "hg.example.org"]
allow_private = true
[hooks.github]
enabled = true
secret = "gh-secret"
[hooks.generic]
enabled = false
[limits]
max_body = 2048
rate_per_source = 5
concurrent_syncs = 2
cache_quota = "10GiB"
[legacy]
wait = true
[seed]
enabled = true
git_host = "https://git.example.org"
forge = ""
[[mirror]]
name = "one"
source = "https://hg.example.org/one"
tags = false
poll = "5m"
refs = ["refs/heads/*"]
[mirror.destination]
url = "https://github.com/acme/one.git"
forge = "github"
`, tokFile)
	c, err := Load(writeFile(t, t.TempDir(), "s.toml", src), env(map[string]string{"TOK": "env-token"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken.Value() != "file-token" || c.Destination.Token.Value() != "env-token" {
		t.Errorf("secrets: admin %q dest %q", c.AdminToken.Value(), c.Destination.Token.Value())
	}
	if c.DatabaseKind() != "postgres" || c.Limits.MaxBody != 2048 || c.Limits.CacheQuota != 10<<30 {
		t.Errorf("db %s max_body %d quota %d", c.DatabaseKind(), c.Limits.MaxBody, c.Limits.CacheQuota)
	}
	if got := c.EnabledProviders(); len(got) != 1 || got[0] != "github" {
		t.Errorf("providers %v", got)
	}
	if p, ok := c.Provider("github"); !ok || p.Secret.Value() != "gh-secret" {
		t.Errorf("github provider %v %v", p, ok)
	}
	if _, ok := c.Provider("generic"); ok {
		t.Error("generic enabled")
	}
	m := c.Mirror[0]
	if m.SCM != "hg" || m.TipBranch != "master" || *m.Tags || m.Poll != 5*time.Minute {
		t.Errorf("mirror %+v", m)
	}
	if m.Destination.Owner != "acme" || m.Destination.Project != "one" {
		t.Errorf("owner/project not derived from URL: %+v", m.Destination)
	}
	if !c.Legacy.Wait || !c.Seed.Enabled || c.Seed.Forge != "" {
		t.Errorf("legacy %+v seed %+v", c.Legacy, c.Seed)
	}
}

func TestUnknownKeys(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		"lisen = \"x\"",
		"[log]\nformt = \"json\"",
		"[[mirror]]\nname = \"a\"\nsource = \"s\"\nsorce = \"x\"\n[mirror.destination]\nurl = \"u\"",
		"[limits]\nmax_bodyy = 1",
	} {
		_, err := Parse([]byte(src), "t.toml")
		if err == nil || !strings.Contains(err.Error(), "unknown keys") {
			t.Errorf("%q: err = %v, want unknown keys", src, err)
		}
	}
}

func TestConvertMemory(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("[convert]\nmemory = \"64MiB\""), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Convert.Memory != 64<<20 {
		t.Errorf("convert.memory = %d, want %d", c.Convert.Memory, 64<<20)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, want string }{
		{`listen = "nope"`, "listen"},
		{`listen = "127.0.0.1:99999"`, "bad port"},
		{`data_dir = ""`, "data_dir"},
		{`database_url = "mysql://x"`, "database_url"},
		{"[log]\nformat = \"xml\"", "log.format"},
		{"[log]\nlevel = \"loud\"", "log.level"},
		{"[source]\nschemes = [\"ftp\"]", "source.schemes"},
		{"[source]\nschemes = [\"file\"]", "allow_file"},
		{"[hooks.myspace]\nenabled = true", "unknown provider"},
		{"[limits]\nmax_body = 0", "limits.max_body"},
		{"[limits]\nmax_body = \"lots\"", "not a size"},
		{"[limits]\nconcurrent_syncs = 0", "concurrent_syncs"},
		{"[limits]\ntrusted_proxies = [\"localhost\"]", "trusted_proxies"},
		{"[limits]\nsubprocess_timeout = \"soon\"", "soon"},
		{"[seed]\nenabled = true\ngit_host = \"nohost\"", "seed.git_host"},
		{"[seed]\nenabled = true\nforge = \"sourceforge\"", "seed.forge"},
		{"[tools]\nconverter = \"magic\"", "tools.converter"},
		{"[convert]\nmemory = \"4MiB\"", "convert.memory"},
		{"[convert]\nmemory = \"much\"", "not a size"},
		{"[[mirror]]\nsource = \"s\"\n[mirror.destination]\nurl = \"u\"", "name is required"},
		{"[[mirror]]\nname = \"a b\"\nsource = \"s\"\n[mirror.destination]\nurl = \"u\"", "name may hold"},
		{"[[mirror]]\nname = \"a\"\nscm = \"svn\"\nsource = \"s\"\n[mirror.destination]\nurl = \"u\"", "scm"},
		{"[[mirror]]\nname = \"a\"\n[mirror.destination]\nurl = \"u\"", "source is required"},
		{"[[mirror]]\nname = \"a\"\nsource = \"-oProxyCommand=x\"\n[mirror.destination]\nurl = \"u\"", "must not start with '-'"},
		{"[[mirror]]\nname = \"a\"\nsource = \"s\"", "destination.url is required"},
		{"[[mirror]]\nname = \"a\"\nsource = \"s\"\n[mirror.destination]\nurl = \"u\"\nforge = \"github\"", "owner and destination.project"},
		{"[[mirror]]\nname = \"a\"\nsource = \"s\"\ntip_branch = \"a..b\"\n[mirror.destination]\nurl = \"u\"", "tip_branch"},
		{"[[mirror]]\nname = \"a\"\nsource = \"s\"\nrefs = [\"heads/[\"]\n[mirror.destination]\nurl = \"u\"", "refs"},
		{"[[mirror]]\nname = \"a\"\nsource = \"s\"\npoll = \"1s\"\n[mirror.destination]\nurl = \"u\"", "poll"},
		{"[[mirror]]\nname = \"a\"\nsource = \"s\"\n[mirror.destination]\nurl = \"u\"\n[[mirror]]\nname = \"a\"\nsource = \"s\"\n[mirror.destination]\nurl = \"u\"", "defined twice"},
		{"admin_token = \"a\"\nadmin_token_env = \"B\"", "give only one"},
		{"admin_token_file = \"/nonexistent/token\"", "admin_token_file"},
		{"[destination]\ntoken_env = \"UNSET_VARIABLE\"", "is not set"},
		{"[destination.app]\nid = 1", "installation_id"},
		{"listen = ", "line 1"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.src), "t.toml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to mention %q", tc.src, err, tc.want)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Parallel()
	e := env(map[string]string{
		"SYNCHRONISER_LISTEN":                 "127.0.0.1:0",
		"SYNCHRONISER_DATA_DIR":               "/tmp/x",
		"SYNCHRONISER_DATABASE_URL":           "postgres://postgres@127.0.0.1/test",
		"SYNCHRONISER_TOKEN":                  "tok",
		"SYNCHRONISER_ADMIN_TOKEN":            "adm",
		"SYNCHRONISER_LOG_FORMAT":             "json",
		"SYNCHRONISER_HG":                     "/nonexistent/hg",
		"SYNCHRONISER_SEED":                   "true",
		"SYNCHRONISER_LEGACY_WAIT":            "1",
		"SYNCHRONISER_CONCURRENT_SYNCS":       "7",
		"SYNCHRONISER_HOOK_GITHUB_SECRET":     "hooksecret",
		"SYNCHRONISER_HOOK_BITBUCKET_SECRET":  "bb",
		"SYNCHRONISER_UNRELATED_IGNORED_AT_A": "x",
	})
	c, err := Load("", e)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:0" || c.DataDir != "/tmp/x" || c.DatabaseKind() != "postgres" ||
		c.Destination.Token.Value() != "tok" || c.AdminToken.Value() != "adm" || c.Log.Format != "json" ||
		c.Tools.Hg != "/nonexistent/hg" || !c.Seed.Enabled || !c.Legacy.Wait || c.Limits.ConcurrentSyncs != 7 {
		t.Errorf("overrides not applied: %s", c)
	}
	if p, ok := c.Provider("github"); !ok || p.Secret.Value() != "hooksecret" {
		t.Errorf("github hook from env: %v %v", p, ok)
	}
	if _, err := Load("", env(map[string]string{"SYNCHRONISER_SEED": "maybe"})); err == nil {
		t.Error("SYNCHRONISER_SEED=maybe accepted")
	}
	if _, err := Load("", env(map[string]string{"SYNCHRONISER_LOG_LEVEL": "shout"})); err == nil {
		t.Error("bad level from env accepted")
	}
}

func TestRedaction(t *testing.T) {
	t.Parallel()
	const tok, adm, hook, db = "ghp_SECRETVALUE1", "ADMINSECRET2", "HOOKSECRET3", "DBPASSWORD4"
	src := fmt.Sprintf(`admin_token = %q
database_url = "postgres://u:%s@h/db"
[destination]
token = %q
[hooks.github]
enabled = true
secret = %q
[[mirror]]
name = "m"
source = "https://hg.example.org/m"
[mirror.destination]
url = "https://github.com/a/m.git"
token = %q
`, adm, db, tok, hook, tok)
	c, err := Parse([]byte(src), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	var logBuf strings.Builder
	log := slog.New(slog.NewJSONHandler(&logBuf, nil))
	log.Info("config", "config", c, "token", c.Destination.Token, "mirror", c.Mirror[0])
	js, _ := json.Marshal(c)
	outs := map[string]string{
		"String":    c.String(),
		"%v":        fmt.Sprintf("%v", *c),
		"%+v":       fmt.Sprintf("%+v", *c),
		"%#v":       fmt.Sprintf("%#v", *c),
		"json":      string(js),
		"slog":      logBuf.String(),
		"mirror %v": fmt.Sprintf("%+v", c.Mirror[0]),
	}
	for name, out := range outs {
		for _, s := range []string{tok, adm, hook, db} {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains secret %q:\n%s", name, s, out)
			}
		}
	}
	if !strings.Contains(c.String(), redacted) {
		t.Errorf("String() shows no redaction marker:\n%s", c.String())
	}
	if c.Destination.Token.Value() != tok {
		t.Error("Value() lost the secret")
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Size{"0": 0, "512": 512, "1KiB": 1024, "64 KiB": 65536, "1MiB": 1 << 20, "1MB": 1e6, "3B": 3} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1XB", "KiB", "99999999999TiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("listen = \"127.0.0.1:1\"\n[limits]\nmax_body = \"1MiB\"\n"))
	f.Add([]byte("[[mirror]]\nname = \"a\"\nsource = \"s\"\n[mirror.destination]\nurl = \"u\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		c, err := Parse(data, "fuzz")
		if err == nil && c.Validate() != nil {
			t.Fatal("Parse accepted a configuration Validate refuses")
		}
	})
}

func TestConvertKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "authors", "alice = Alice <a@example.com>\n")
	writeFile(t, dir, "bad-authors", "alice\n")
	good := `
[convert]
authors_file = "authors"
hggit = "1.1"

[[mirror]]
name = "a"
source = "https://hg.example.org/a"
destination.url = "https://git.example.org/a.git"

[[mirror]]
name = "b"
source = "https://hg.example.org/b"
destination.url = "https://git.example.org/b.git"
hggit = "1.0"
branch_bookmark_suffix = "_bm"
allow_authors_change = true
`
	file := writeFile(t, dir, "config.toml", good)
	c, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ConvertConfigOf("a").AuthorsFile; got != filepath.Join(dir, "authors") {
		t.Errorf("authors_file resolved to %q, want it beside the configuration", got)
	}
	a, err := c.ConvertSettings("a")
	if err != nil || a.Level() != "1.1" || a.Authors.Len() != 1 || a.BranchBookmarkSuffix != "" || a.AllowAuthorsChange {
		t.Errorf("mirror a: %+v, %v", a, err)
	}
	b, err := c.ConvertSettings("b")
	if err != nil || b.Level() != "1.0" || b.Authors.Len() != 1 || b.BranchBookmarkSuffix != "_bm" || !b.AllowAuthorsChange {
		t.Errorf("mirror b: %+v, %v", b, err)
	}
	for _, tc := range []struct{ text, want string }{
		{"[convert]\nhggit = \"2\"\n", `convert: hggit "2": want "1.0" or "1.1"`},
		{"[convert]\nauthors_file = \"bad-authors\"\n", "bad-authors:1: malformed authors line"},
		{"[convert]\nauthors_file = \"nope\"\n", "authors_file: authors file: open"},
	} {
		if _, err := Load(writeFile(t, dir, "config.toml", tc.text), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}
