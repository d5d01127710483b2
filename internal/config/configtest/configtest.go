// Package configtest builds Synchroniser configurations for tests.
package configtest

import (
	"testing"

	"github.com/synchroniser/synchroniser/internal/config"
)

// Parse parses toml as config.Parse does (name is used in errors), then,
// when tweak is not nil, applies it and validates the result again, for the
// settings a test sets in Go rather than in TOML. It fails the test on error.
func Parse(t testing.TB, toml, name string, tweak func(*config.Config)) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(toml), name)
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}
