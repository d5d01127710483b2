package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/synchroniser/synchroniser/internal/limitio"
)

// redacted is what a Secret shows instead of its value.
const redacted = "[redacted]"

// Secret is a credential (token, webhook secret). It formats, logs and
// marshals as "[redacted]"; only Value gives the real string.
type Secret string

// Value returns the secret itself, for the one place that must use it.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

// String returns "[redacted]" (or "" when the secret is empty).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders (JSON, TOML) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// resolveSecret fills *s from at most one of its three spellings: the value
// itself, a file holding it (trailing newline trimmed) or an environment
// variable naming it. key is the TOML key, for error messages.
func resolveSecret(key string, s *Secret, file, env string, lookup func(string) (string, bool)) error {
	n := 0
	for _, v := range []string{string(*s), file, env} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%s: give only one of %s, %s_file and %s_env", key, key, key, key)
	}
	switch {
	case file != "":
		data, err := readSmall(file)
		if err != nil {
			return fmt.Errorf("%s_file: %w", key, err)
		}
		v := strings.TrimRight(string(data), "\r\n")
		if v == "" {
			return fmt.Errorf("%s_file: %s is empty", key, file)
		}
		*s = Secret(v)
	case env != "":
		v, ok := lookup(env)
		if !ok || v == "" {
			return fmt.Errorf("%s_env: environment variable %s is not set", key, env)
		}
		*s = Secret(v)
	}
	return nil
}

// maxSecretFile bounds what a *_file may hold.
const maxSecretFile = 64 << 10

// readSmall reads a secret file of at most maxSecretFile bytes.
func readSmall(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := limitio.ReadAll(f, maxSecretFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}
