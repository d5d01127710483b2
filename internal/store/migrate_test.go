package store

import (
	"context"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func TestInDialect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, driver, in, want, err string
	}{
		{"postgres as written", Postgres, "id BIGSERIAL PRIMARY KEY,\nat TIMESTAMPTZ", "id BIGSERIAL PRIMARY KEY,\nat TIMESTAMPTZ", ""},
		{"sqlite rowid alias", SQLite, "id BIGSERIAL PRIMARY KEY,\nn BIGINT NOT NULL", "id INTEGER PRIMARY KEY AUTOINCREMENT,\nn BIGINT NOT NULL", ""},
		{"sqlite comment not searched", SQLite, "-- a timestamp, not a TIMESTAMPTZ\nn BIGINT", "-- a timestamp, not a TIMESTAMPTZ\nn BIGINT", ""},
		{"sqlite serial", SQLite, "id SERIAL PRIMARY KEY", "", "line 1: PostgreSQL type SERIAL has no SQLite rewrite"},
		{"sqlite bigserial spelt otherwise", SQLite, "n TEXT,\nid BIGSERIAL  PRIMARY KEY", "", "line 2: PostgreSQL type BIGSERIAL has no SQLite rewrite"},
		{"sqlite timestamptz", SQLite, "at timestamptz NOT NULL -- when", "", "line 1: PostgreSQL type timestamptz has no SQLite rewrite"},
		{"sqlite jsonb", SQLite, "doc JSONB", "", "line 1: PostgreSQL type JSONB has no SQLite rewrite"},
	} {
		got, err := inDialect(tc.driver, tc.in)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case got != tc.want:
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestMigrationsSQLite checks that every migration has a SQLite form and
// that SQLite numbers sync_run's rows itself.
func TestMigrationsSQLite(t *testing.T) {
	t.Parallel()
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil || len(entries) == 0 {
		t.Fatalf("migrations: %d, %v", len(entries), err)
	}
	for _, e := range entries {
		body, err := fs.ReadFile(migrations, path.Join("migrations", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inDialect(SQLite, string(body)); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{Driver: SQLite, Path: filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var schema string
	if err := s.DB().QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sync_run'").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(schema, "id           INTEGER PRIMARY KEY AUTOINCREMENT,") {
		t.Errorf("sync_run in SQLite:\n%s", schema)
	}
}
