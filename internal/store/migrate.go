package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrations holds the schema, one file per version (NNN_name.sql), written
// once for both drivers in PostgreSQL's dialect; inDialect gives SQLite its
// own.
//
//go:embed migrations
var migrations embed.FS

// migrate applies the embedded migrations, in the driver's dialect, that
// are not yet recorded in synchroniser_migration, in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if s.driver == Postgres {
		// Several workers may start at once against one database.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(1398362435, 0)"); err != nil {
			return fmt.Errorf("store: migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS synchroniser_migration (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM synchroniser_migration")
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("store: migrate: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return fmt.Errorf("store: migrate: bad migration file name %q", name)
		}
		if applied[v] {
			continue
		}
		body, err := fs.ReadFile(migrations, path.Join("migrations", name))
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		stmts, err := inDialect(s.driver, string(body))
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, stmts); err != nil {
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO synchroniser_migration (version, name, applied_at) VALUES (?, ?, ?)"),
			v, name, toMicros(time.Now())); err != nil {
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: commit: %w", err)
	}
	return nil
}

// sqliteTypes rewrites the PostgreSQL column types the migrations use that
// SQLite spells otherwise. Every other type they use (TEXT, INTEGER,
// BIGINT) means the same in both: times are BIGINT unix microseconds, JSON
// is TEXT.
var sqliteTypes = strings.NewReplacer(
	// A rowid alias: SQLite numbers rows itself only for exactly
	// "INTEGER PRIMARY KEY", and AUTOINCREMENT never reuses an id, as a
	// PostgreSQL sequence does not.
	"BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT",
)

// pgOnly matches PostgreSQL types with no rewrite in sqliteTypes: SQLite
// would accept them as names and give them other meanings. Comments are
// not searched.
var pgOnly = regexp.MustCompile(`(?i)\b(SMALLSERIAL|SERIAL|BIGSERIAL|SERIAL[248]|TIMESTAMPTZ|TIMESTAMP|INTERVAL|JSONB|BYTEA|UUID)\b`)

// inDialect returns the statements of a migration for driver: as written
// for PostgreSQL, rewritten by sqliteTypes for SQLite. A migration that
// uses a PostgreSQL type with no SQLite rewrite is an error, never a
// schema that differs quietly.
func inDialect(driver, stmts string) (string, error) {
	if driver == Postgres {
		return stmts, nil
	}
	out := sqliteTypes.Replace(stmts)
	for i, line := range strings.Split(out, "\n") {
		code, _, _ := strings.Cut(line, "--")
		if m := pgOnly.FindString(code); m != "" {
			return "", fmt.Errorf("line %d: PostgreSQL type %s has no SQLite rewrite", i+1, m)
		}
	}
	return out, nil
}
