// Package config reads Synchroniser's configuration: one TOML file plus
// SYNCHRONISER_* environment overrides, validated as a whole at start.
//
// Secrets (tokens, webhook secrets) can be given inline, as a file
// (KEY_file) or as the name of an environment variable (KEY_env). They are
// held as Secret values, which never print.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/synchroniser/synchroniser/internal/forge"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// defaultTOML is the configuration used when no file is given.
//
//go:embed default.toml
var defaultTOML []byte

// Providers lists the webhook providers served under /hooks/{provider}.
var Providers = []string{"bitbucket", "github", "gitlab", "heptapod", "gitea", "gogs", "forgejo", "generic"}

// Config is the whole configuration.
type Config struct {
	Listen      string `toml:"listen"`       // address:port, default 127.0.0.1:8080
	DataDir     string `toml:"data_dir"`     // caches and the SQLite database, default ./data
	DatabaseURL Secret `toml:"database_url"` // "" = SQLite in DataDir; postgres://... = PostgreSQL
	// BaseURL is the public URL of the service (behind a proxy), used for
	// same-origin checks and links; "" = derive from the request.
	BaseURL string `toml:"base_url"`

	AdminToken     Secret `toml:"admin_token"` // "sync now" and the admin API; "" disables them
	AdminTokenFile string `toml:"admin_token_file"`
	AdminTokenEnv  string `toml:"admin_token_env"`

	Log         Log                 `toml:"log"`
	Bot         Bot                 `toml:"bot"`
	Destination Credentials         `toml:"destination"` // default credentials for destinations
	Source      SourcePolicy        `toml:"source"`
	Hooks       map[string]Provider `toml:"hooks"` // keyed by provider name
	Limits      Limits              `toml:"limits"`
	Queue       Queue               `toml:"queue"`
	Legacy      Legacy              `toml:"legacy"`
	Seed        Seed                `toml:"seed"`
	Tools       Tools               `toml:"tools"`
	Mirror      []MirrorConfig      `toml:"mirror"`
	Convert     ConvertConfig       `toml:"convert"` // hg-git's options, defaults for every mirror (convert.go)

	// File is the file the configuration was read from ("" = embedded default).
	File string `toml:"-"`
}

// Log configures the process logger.
type Log struct {
	Format string `toml:"format"` // "text" (default) or "json"
	Level  string `toml:"level"`  // "debug", "info" (default), "warn", "error"
}

// Bot is the identity that pushes to destinations.
type Bot struct {
	Name  string `toml:"name"`  // display name, e.g. "Synchroniser"
	Login string `toml:"login"` // account on the destination forge; must be a collaborator
	Email string `toml:"email"`
}

// Credentials authenticate to a destination: a token, or a GitHub App.
type Credentials struct {
	Token     Secret `toml:"token"`
	TokenFile string `toml:"token_file"`
	TokenEnv  string `toml:"token_env"`

	App GitHubApp `toml:"app"`

	SSHKey     string `toml:"ssh_key"`     // private key file for ssh destinations
	KnownHosts string `toml:"known_hosts"` // known_hosts file for ssh destinations
}

// GitHubApp identifies a GitHub App installation used instead of a token.
type GitHubApp struct {
	ID             int64  `toml:"id"`
	InstallationID int64  `toml:"installation_id"`
	PrivateKeyFile string `toml:"private_key_file"`
}

// Enabled reports whether the App is configured.
func (a GitHubApp) Enabled() bool { return a.ID != 0 }

// SourcePolicy limits the source URLs a webhook may name, and holds the
// default credentials for private sources.
type SourcePolicy struct {
	Schemes      []string `toml:"schemes"`       // default https, ssh
	Hosts        []string `toml:"hosts"`         // allowed hosts; empty = any public host
	AllowPrivate bool     `toml:"allow_private"` // allow loopback/private addresses
	AllowFile    bool     `toml:"allow_file"`    // allow file:// and local paths (tests only)
	SourceCredentials
}

// SourceCredentials authenticate to a private Mercurial source: user and
// token (HTTP Basic over HTTPS: hgweb behind a proxy, Heptapod personal
// access tokens), or an ssh key with its known_hosts for ssh:// sources.
type SourceCredentials struct {
	User       string `toml:"user"`
	Token      Secret `toml:"token"`
	TokenFile  string `toml:"token_file"`
	TokenEnv   string `toml:"token_env"`
	SSHKey     string `toml:"ssh_key"`     // private key file
	KnownHosts string `toml:"known_hosts"` // known_hosts file (required with ssh_key)
}

// Provider configures one webhook provider.
type Provider struct {
	Enabled    bool   `toml:"enabled"`
	Secret     Secret `toml:"secret"` // HMAC secret or shared token, per provider
	SecretFile string `toml:"secret_file"`
	SecretEnv  string `toml:"secret_env"`
}

// Limits bound the work a request or a sync may cause.
type Limits struct {
	MaxBody           Size          `toml:"max_body"`           // request body, default 1 MiB
	MaxHeaderBytes    Size          `toml:"max_header_bytes"`   // default 64 KiB
	RatePerSource     int           `toml:"rate_per_source"`    // requests per RateWindow per client IP; 0 = unlimited
	RateWindow        time.Duration `toml:"rate_window"`        // default 1m
	ConcurrentSyncs   int           `toml:"concurrent_syncs"`   // workers, default 4
	SubprocessTimeout time.Duration `toml:"subprocess_timeout"` // each hg/git call, default 30m
	SyncTimeout       time.Duration `toml:"sync_timeout"`       // one whole sync, default 2h
	CacheQuota        Size          `toml:"cache_quota"`        // disk for caches; 0 = unlimited
	// TrustedProxies lists the addresses (CIDR or IP) of reverse proxies
	// whose X-Forwarded-For is believed, for rate limiting and logs.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// Legacy configures the original /synchronise/ endpoint.
type Legacy struct {
	Enabled     bool          `toml:"enabled"`      // default true
	Wait        bool          `toml:"wait"`         // answer after the sync (200/500), like the original
	WaitTimeout time.Duration `toml:"wait_timeout"` // how long a waiting request waits, default 10m
	// Token, when set, must be given as ?token= (Bitbucket's POST service
	// could not sign its requests).
	Token     Secret `toml:"token"`
	TokenFile string `toml:"token_file"`
	TokenEnv  string `toml:"token_env"`
}

// Seed maps a Bitbucket repository owner/slug to a destination user/project on
// a Git host, like the original service did.
type Seed struct {
	Enabled bool       `toml:"enabled"`
	GitHost string     `toml:"git_host"` // default https://github.com
	Forge   forge.Kind `toml:"forge"`    // "github" (default), "gitlab", "gitea" or "" for plain git
	APIURL  string     `toml:"api_url"`  // forge API base; default per forge
	// SourceHost is where seed sources are pulled from: <source_host>/<owner>/<slug>
	// (default https://bitbucket.org). A payload whose repository URL is on
	// another host is refused.
	SourceHost string `toml:"source_host"`
	// Credentials for the seed sources (default: [source]'s).
	SourceCredentials
}

// Tools locates the programs a sync runs.
type Tools struct {
	Hg        string `toml:"hg"`        // default "hg"
	Git       string `toml:"git"`       // default "git"
	Converter string `toml:"converter"` // "native" (default) or "hg-git"
	Transport string `toml:"transport"` // "native" (default) or "hg" (transport.go)
}

// MirrorConfig is one [[mirror]] table.
type MirrorConfig struct {
	Name          string            `toml:"name"`
	SCM           scm.Kind          `toml:"scm"`        // "hg" (default) or "git"
	Source        string            `toml:"source"`     // URL or local path
	Repository    string            `toml:"repository"` // provider's "owner/slug", matched against webhooks
	Destination   DestinationConfig `toml:"destination"`
	TipBranch     string            `toml:"tip_branch"` // default "master"
	Refs          []string          `toml:"refs"`
	NamedBranches bool              `toml:"named_branches"`
	Tags          *bool             `toml:"tags"` // default true
	Force         bool              `toml:"force"`
	Poll          time.Duration     `toml:"poll"`
	Converter     string            `toml:"converter"` // "" = [tools] converter
	Transport     string            `toml:"transport"` // "" = [tools] transport
	ConvertConfig                   // authors_file, branch_bookmark_suffix, hggit, allow_authors_change (convert.go)

	Layout    string `toml:"layout"`     // "hg-git" (default) or "heptapod"
	Phases    string `toml:"phases"`     // "all" (default) or "public"
	WildHeads bool   `toml:"wild_heads"` // push heads no ref reaches as wild/NODE
	Rewrites  string `toml:"rewrites"`   // "markers" (default) or "refuse"
	Prune     bool   `toml:"prune"`      // delete refs the source no longer has

	// Credentials for a private source (default: [source]'s).
	SourceUser       string `toml:"source_user"`
	SourceToken      Secret `toml:"source_token"`
	SourceTokenFile  string `toml:"source_token_file"`
	SourceTokenEnv   string `toml:"source_token_env"`
	SourceSSHKey     string `toml:"source_ssh_key"`
	SourceKnownHosts string `toml:"source_known_hosts"`
}

// sourceCredentials returns the mirror's source credentials as one value.
func (m *MirrorConfig) sourceCredentials() SourceCredentials {
	return SourceCredentials{User: m.SourceUser, Token: m.SourceToken, SSHKey: m.SourceSSHKey, KnownHosts: m.SourceKnownHosts}
}

// DestinationConfig is a mirror's [mirror.destination] table.
type DestinationConfig struct {
	URL     string     `toml:"url"`
	Forge   forge.Kind `toml:"forge"` // "github", "gitlab", "gitea" or "" (plain git)
	Owner   string     `toml:"owner"`
	Project string     `toml:"project"`
	APIURL  string     `toml:"api_url"`
	Credentials
}

// Default returns the embedded default configuration.
func Default() *Config {
	c, err := parse(defaultTOML, "")
	if err != nil {
		panic("config: embedded default: " + err.Error()) // a build defect, caught by tests
	}
	return c
}

// Load reads the file at path ("" = the embedded default only), applies the
// environment overrides found through lookupEnv (os.LookupEnv in main; nil =
// none), resolves secrets and validates the result.
func Load(file string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	var data []byte
	if file != "" {
		var err error
		data, err = os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	c, err := parse(data, file)
	if err != nil {
		return nil, err
	}
	if err := c.applyEnv(lookupEnv); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.resolveSecrets(lookupEnv); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes data over the defaults without environment overrides and
// validates it. name is used in error messages.
func Parse(data []byte, name string) (*Config, error) {
	c, err := parse(data, name)
	if err != nil {
		return nil, err
	}
	if err := c.resolveSecrets(func(string) (string, bool) { return "", false }); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// parse decodes the defaults, then data over them, rejecting unknown keys.
func parse(data []byte, name string) (*Config, error) {
	c := &Config{}
	if _, err := toml.NewDecoder(bytes.NewReader(defaultTOML)).Decode(c); err != nil {
		return nil, fmt.Errorf("config: embedded default: %w", err)
	}
	c.File = name
	if len(data) == 0 {
		return c, nil
	}
	label := name
	if label == "" {
		label = "config"
	}
	// Mirrors and hooks in the file replace, not extend, the defaults.
	c.Mirror = nil
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("config: %s: line %d: %s", label, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("config: %s: %w", label, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("config: %s: unknown keys: %s", label, strings.Join(keys, ", "))
	}
	return c, nil
}

// applyEnv applies the SYNCHRONISER_* environment overrides.
func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	str := map[string]*string{
		"SYNCHRONISER_LISTEN":      &c.Listen,
		"SYNCHRONISER_DATA_DIR":    &c.DataDir,
		"SYNCHRONISER_BASE_URL":    &c.BaseURL,
		"SYNCHRONISER_LOG_FORMAT":  &c.Log.Format,
		"SYNCHRONISER_LOG_LEVEL":   &c.Log.Level,
		"SYNCHRONISER_HG":          &c.Tools.Hg,
		"SYNCHRONISER_GIT":         &c.Tools.Git,
		"SYNCHRONISER_CONVERTER":   &c.Tools.Converter,
		"SYNCHRONISER_TRANSPORT":   &c.Tools.Transport,
		"SYNCHRONISER_BOT_LOGIN":   &c.Bot.Login,
		"SYNCHRONISER_BOT_NAME":    &c.Bot.Name,
		"SYNCHRONISER_GIT_HOST":    &c.Seed.GitHost,
		"SYNCHRONISER_SOURCE_HOST": &c.Seed.SourceHost,
	}
	for k, p := range str {
		if v, ok := lookup(k); ok {
			*p = v
		}
	}
	sec := map[string]*Secret{
		"SYNCHRONISER_DATABASE_URL": &c.DatabaseURL,
		"SYNCHRONISER_TOKEN":        &c.Destination.Token,
		"SYNCHRONISER_ADMIN_TOKEN":  &c.AdminToken,
	}
	for k, p := range sec {
		if v, ok := lookup(k); ok {
			*p = Secret(v)
			// The environment wins over the file's other spellings.
			switch k {
			case "SYNCHRONISER_TOKEN":
				c.Destination.TokenFile, c.Destination.TokenEnv = "", ""
			case "SYNCHRONISER_ADMIN_TOKEN":
				c.AdminTokenFile, c.AdminTokenEnv = "", ""
			}
		}
	}
	bools := map[string]*bool{
		"SYNCHRONISER_SEED":        &c.Seed.Enabled,
		"SYNCHRONISER_LEGACY_WAIT": &c.Legacy.Wait,
	}
	for k, p := range bools {
		if v, ok := lookup(k); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean", k, v)
			}
			*p = b
		}
	}
	if v, ok := lookup("SYNCHRONISER_CONCURRENT_SYNCS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("SYNCHRONISER_CONCURRENT_SYNCS: %q is not a number", v)
		}
		c.Limits.ConcurrentSyncs = n
	}
	for _, p := range Providers {
		if v, ok := lookup("SYNCHRONISER_HOOK_" + strings.ToUpper(p) + "_SECRET"); ok {
			if c.Hooks == nil {
				c.Hooks = map[string]Provider{}
			}
			h := c.Hooks[p]
			h.Secret, h.SecretFile, h.SecretEnv = Secret(v), "", ""
			h.Enabled = true
			c.Hooks[p] = h
		}
	}
	return nil
}

// resolveSecrets reads every *_file and *_env secret.
func (c *Config) resolveSecrets(lookup func(string) (string, bool)) error {
	if err := resolveSecret("admin_token", &c.AdminToken, c.AdminTokenFile, c.AdminTokenEnv, lookup); err != nil {
		return err
	}
	if err := resolveSecret("destination.token", &c.Destination.Token, c.Destination.TokenFile, c.Destination.TokenEnv, lookup); err != nil {
		return err
	}
	if err := resolveSecret("legacy.token", &c.Legacy.Token, c.Legacy.TokenFile, c.Legacy.TokenEnv, lookup); err != nil {
		return err
	}
	for name, h := range c.Hooks {
		if err := resolveSecret("hooks."+name+".secret", &h.Secret, h.SecretFile, h.SecretEnv, lookup); err != nil {
			return err
		}
		c.Hooks[name] = h
	}
	if err := resolveSecret("source.token", &c.Source.Token, c.Source.TokenFile, c.Source.TokenEnv, lookup); err != nil {
		return err
	}
	if err := resolveSecret("seed.token", &c.Seed.Token, c.Seed.TokenFile, c.Seed.TokenEnv, lookup); err != nil {
		return err
	}
	for i := range c.Mirror {
		mc := &c.Mirror[i]
		d := &mc.Destination
		key := fmt.Sprintf("mirror[%d] (%s).destination.token", i, mc.Name)
		if err := resolveSecret(key, &d.Token, d.TokenFile, d.TokenEnv, lookup); err != nil {
			return err
		}
		key = fmt.Sprintf("mirror[%d] (%s).source_token", i, mc.Name)
		if err := resolveSecret(key, &mc.SourceToken, mc.SourceTokenFile, mc.SourceTokenEnv, lookup); err != nil {
			return err
		}
	}
	return nil
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	ownerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	forges  = []forge.Kind{forge.KindPlain, forge.KindGitHub, forge.KindGitLab, forge.KindGitea}
	schemes = []string{"https", "http", "ssh", "file"}
	levels  = []string{"debug", "info", "warn", "error"}
	formats = []string{"text", "json"}
	convs   = []string{"", "native", "hg-git"}
)

// Validate checks the whole configuration and reports every problem found,
// one per line.
func (c *Config) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if m := c.Convert.Memory; m != 0 && m < 8<<20 {
		bad("convert.memory: %d bytes is below the minimum of 8 MiB (0 = default)", m)
	}

	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen: %q is not host:port", c.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("listen: bad port %q", port)
	}
	if c.DataDir == "" {
		bad("data_dir: must not be empty")
	}
	if db := c.DatabaseURL.Value(); db != "" {
		u, err := url.Parse(db)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("database_url: must be a postgres:// or postgresql:// URL (leave empty for SQLite)")
		}
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("base_url: %q is not an http(s) URL", c.BaseURL)
		}
	}
	if !slices.Contains(formats, c.Log.Format) {
		bad("log.format: %q is not one of text, json", c.Log.Format)
	}
	if !slices.Contains(levels, c.Log.Level) {
		bad("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Bot.Login != "" && !ownerRE.MatchString(c.Bot.Login) {
		bad("bot.login: %q is not a valid account name", c.Bot.Login)
	}
	validateCredentials("destination", c.Destination, bad)
	for _, s := range c.Source.Schemes {
		if !slices.Contains(schemes, s) {
			bad("source.schemes: %q is not one of https, http, ssh, file", s)
		}
	}
	if len(c.Source.Schemes) == 0 {
		bad("source.schemes: must name at least one scheme")
	}
	if slices.Contains(c.Source.Schemes, "file") && !c.Source.AllowFile {
		bad("source.schemes: \"file\" needs source.allow_file = true")
	}
	validateSourceCredentials("source", c.Source.SourceCredentials, bad)
	validateSourceCredentials("seed", c.Seed.SourceCredentials, bad)
	for _, h := range c.Source.Hosts {
		if h == "" || strings.ContainsAny(h, "/@ ") {
			bad("source.hosts: %q is not a host name", h)
		}
	}
	for name := range c.Hooks {
		if !slices.Contains(Providers, name) {
			bad("hooks.%s: unknown provider (known: %s)", name, strings.Join(Providers, ", "))
		}
	}
	l := c.Limits
	if l.MaxBody <= 0 || l.MaxBody > 1<<30 {
		bad("limits.max_body: %d is out of range (1 byte to 1 GiB)", l.MaxBody)
	}
	if l.MaxHeaderBytes < 1024 || l.MaxHeaderBytes > 1<<24 {
		bad("limits.max_header_bytes: %d is out of range (1 KiB to 16 MiB)", l.MaxHeaderBytes)
	}
	if l.RatePerSource < 0 {
		bad("limits.rate_per_source: must not be negative")
	}
	if l.RateWindow <= 0 {
		bad("limits.rate_window: must be positive")
	}
	if l.ConcurrentSyncs < 1 || l.ConcurrentSyncs > 1000 {
		bad("limits.concurrent_syncs: %d is out of range (1 to 1000)", l.ConcurrentSyncs)
	}
	if l.SubprocessTimeout <= 0 {
		bad("limits.subprocess_timeout: must be positive")
	}
	if l.SyncTimeout <= 0 {
		bad("limits.sync_timeout: must be positive")
	}
	for _, p := range l.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("limits.trusted_proxies: %q is not an address or CIDR prefix", p)
			}
		}
	}
	if l.CacheQuota < 0 {
		bad("limits.cache_quota: must not be negative")
	}
	c.validateQueue(bad)
	if c.Legacy.WaitTimeout <= 0 {
		bad("legacy.wait_timeout: must be positive")
	}
	if c.Seed.Enabled {
		if u, err := url.Parse(c.Seed.GitHost); err != nil || u.Scheme == "" || u.Host == "" && u.Scheme != "file" {
			bad("seed.git_host: %q is not a URL", c.Seed.GitHost)
		}
		if !slices.Contains(forges, c.Seed.Forge) {
			bad("seed.forge: %q is not one of github, gitlab, gitea or empty", c.Seed.Forge)
		}
		if c.Seed.APIURL != "" {
			if u, err := url.Parse(c.Seed.APIURL); err != nil || u.Host == "" {
				bad("seed.api_url: %q is not a URL", c.Seed.APIURL)
			}
		}
		if u, err := url.Parse(c.Seed.SourceHost); err != nil || u.Host == "" || strings.HasPrefix(c.Seed.SourceHost, "-") {
			bad("seed.source_host: %q is not a URL", c.Seed.SourceHost)
		}
	}
	if c.Tools.Hg == "" {
		bad("tools.hg: must not be empty")
	}
	if c.Tools.Git == "" {
		bad("tools.git: must not be empty")
	}
	if !slices.Contains(convs, c.Tools.Converter) || c.Tools.Converter == "" {
		bad("tools.converter: %q is not one of native, hg-git", c.Tools.Converter)
	}
	if c.Tools.Transport == "" || !validTransport(c.Tools.Transport) {
		bad("tools.transport: %q is not one of %s", c.Tools.Transport, strings.Join(mirror.Transports, ", "))
	}
	seen := map[string]bool{}
	for i := range c.Mirror {
		validateMirror(i, &c.Mirror[i], seen, bad)
	}
	c.validateConvert(bad)
	if len(errs) == 0 {
		return nil
	}
	label := c.File
	if label == "" {
		label = "configuration"
	}
	return fmt.Errorf("config: %s is invalid:\n  %s", label, strings.Join(errs, "\n  "))
}

func validateCredentials(key string, cr Credentials, bad func(string, ...any)) {
	if cr.App.Enabled() {
		if cr.App.InstallationID == 0 {
			bad("%s.app.installation_id: required with app.id", key)
		}
		if cr.App.PrivateKeyFile == "" {
			bad("%s.app.private_key_file: required with app.id", key)
		}
		if cr.Token.IsSet() {
			bad("%s: give a token or an app, not both", key)
		}
	}
}

// validateSourceCredentials checks one set of source credentials (key.user, ...).
func validateSourceCredentials(key string, c SourceCredentials, bad func(string, ...any)) {
	sep := "."
	if strings.HasPrefix(key, "mirror") {
		sep = ": source_"
	}
	if c.Token.IsSet() && c.User == "" {
		bad("%s%suser: required with a token (HTTP Basic sends both)", key, sep)
	}
	if strings.ContainsAny(c.User, ":\x00\n\r") {
		bad("%s%suser: %q may not hold ':' or control characters", key, sep, c.User)
	}
	if c.SSHKey != "" && c.KnownHosts == "" {
		bad("%s%sknown_hosts: required with an ssh key (unknown host keys are refused)", key, sep)
	}
	if c.KnownHosts != "" && c.SSHKey == "" {
		bad("%s%sssh_key: known_hosts given without an ssh key", key, sep)
	}
}

// validateMirror checks one [[mirror]] and fills its derived defaults.
func validateMirror(i int, m *MirrorConfig, seen map[string]bool, bad func(string, ...any)) {
	key := fmt.Sprintf("mirror[%d]", i)
	if m.Name != "" {
		key = fmt.Sprintf("mirror %q", m.Name)
	}
	switch {
	case m.Name == "":
		bad("%s: name is required", key)
	case !nameRE.MatchString(m.Name):
		bad("%s: name may hold only letters, digits, '.', '_' and '-'", key)
	case seen[m.Name]:
		bad("%s: defined twice", key)
	}
	seen[m.Name] = true
	if m.SCM == "" {
		m.SCM = scm.Hg
	}
	if !m.SCM.Valid() {
		bad("%s: scm %q is not hg or git", key, m.SCM)
	}
	if m.Source == "" {
		bad("%s: source is required", key)
	} else if strings.HasPrefix(m.Source, "-") {
		bad("%s: source %q must not start with '-'", key, m.Source)
	}
	d := &m.Destination
	if !slices.Contains(forges, d.Forge) {
		bad("%s: destination.forge %q is not one of github, gitlab, gitea or empty", key, d.Forge)
	}
	if d.URL == "" {
		bad("%s: destination.url is required", key)
	} else if strings.HasPrefix(d.URL, "-") {
		bad("%s: destination.url %q must not start with '-'", key, d.URL)
	}
	if d.Forge != forge.KindPlain && (d.Owner == "" || d.Project == "") {
		if o, p, ok := ownerProject(d.URL); ok {
			if d.Owner == "" {
				d.Owner = o
			}
			if d.Project == "" {
				d.Project = p
			}
		} else {
			bad("%s: destination.owner and destination.project are required with a forge", key)
		}
	}
	validateCredentials(key+".destination", d.Credentials, bad)
	if m.TipBranch == "" {
		m.TipBranch = "master"
	}
	if !validBranch(m.TipBranch) {
		bad("%s: tip_branch %q is not a valid branch name", key, m.TipBranch)
	}
	for _, g := range m.Refs {
		if _, err := path.Match(g, "refs/heads/x"); err != nil || !strings.HasPrefix(g, "refs/") {
			bad("%s: refs: %q is not a glob over full ref names (refs/...)", key, g)
		}
	}
	if m.Tags == nil {
		t := true
		m.Tags = &t
	}
	if m.Poll < 0 || (m.Poll > 0 && m.Poll < 10*time.Second) {
		bad("%s: poll %s must be 0 (off) or at least 10s", key, m.Poll)
	}
	if !slices.Contains(convs, m.Converter) {
		bad("%s: converter %q is not one of native, hg-git", key, m.Converter)
	}
	if !validTransport(m.Transport) {
		bad("%s: transport %q is not one of %s", key, m.Transport, strings.Join(mirror.Transports, ", "))
	}
	for _, c := range []struct {
		key, v string
		ok     []string
	}{{"layout", m.Layout, mirror.Layouts}, {"phases", m.Phases, mirror.PhaseModes}, {"rewrites", m.Rewrites, mirror.RewriteModes}} {
		if c.v != "" && !slices.Contains(c.ok, c.v) {
			bad("%s: %s %q is not one of %s", key, c.key, c.v, strings.Join(c.ok, ", "))
		}
	}
	if m.SCM == "git" && (m.Layout != "" || m.Phases != "" || m.WildHeads) {
		bad("%s: layout, phases and wild_heads apply to Mercurial sources only", key)
	}
	validateSourceCredentials(key, m.sourceCredentials(), bad)
}

// ownerProject takes "owner/project" from the last two path elements of a
// Git URL (https://host/owner/project.git or git@host:owner/project.git).
func ownerProject(raw string) (owner, project string, ok bool) {
	p := raw
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		p = u.Path
	} else if i := strings.Index(raw, ":"); i >= 0 {
		p = raw[i+1:]
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if len(parts) < 2 {
		return "", "", false
	}
	owner, project = parts[len(parts)-2], strings.TrimSuffix(parts[len(parts)-1], ".git")
	return owner, project, owner != "" && project != ""
}

// validBranch is a conservative subset of git check-ref-format.
func validBranch(b string) bool {
	if b == "" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") {
		return false
	}
	for _, r := range b {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("~^:?*[\\", r) {
			return false
		}
	}
	return true
}

// DatabaseKind is "sqlite" or "postgres".
func (c *Config) DatabaseKind() string {
	if c.DatabaseURL.IsSet() {
		return "postgres"
	}
	return "sqlite"
}

// SQLitePath is the SQLite database file used when DatabaseURL is empty.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "synchroniser.db") }

// CacheDir is where mirrors' local repositories are kept.
func (c *Config) CacheDir() string { return filepath.Join(c.DataDir, "cache") }

// EnabledProviders lists the enabled webhook providers, sorted.
func (c *Config) EnabledProviders() []string {
	var out []string
	for name, p := range c.Hooks {
		if p.Enabled {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Provider returns the configuration of a webhook provider and whether it is enabled.
func (c *Config) Provider(name string) (Provider, bool) {
	p, ok := c.Hooks[name]
	return p, ok && p.Enabled
}

// LogLevel is Log.Level as a slog.Level.
func (c *Config) LogLevel() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.Log.Level)) // validated
	return l
}

// String renders the configuration as TOML with every secret redacted.
func (c *Config) String() string {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return "config: " + err.Error()
	}
	return b.String()
}

// LogValue summarises the configuration for slog, without secrets.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("file", c.File),
		slog.String("listen", c.Listen),
		slog.String("data_dir", c.DataDir),
		slog.String("database", c.DatabaseKind()),
		slog.Int("mirrors", len(c.Mirror)),
		slog.Any("providers", c.EnabledProviders()),
		slog.Bool("seed", c.Seed.Enabled),
	)
}
