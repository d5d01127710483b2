// Package store keeps what Synchroniser must remember: the history of sync
// runs, webhook deliveries (so that a replayed delivery does not sync twice)
// and per-mirror sync requests (so that a burst of pushes coalesces without
// losing the last one).
//
// One schema serves two drivers: SQLite (modernc.org/sqlite, no cgo) for one
// machine and PostgreSQL (pgx) for several. The same database also holds
// River's tables; DB and Pool expose the connections for River's drivers.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Drivers.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// ErrNotFound is returned when a run or delivery does not exist.
var ErrNotFound = errors.New("store: not found")

// Config says which database to open.
type Config struct {
	Driver string // SQLite (default) or Postgres
	Path   string // SQLite database file (created if missing)
	URL    string // PostgreSQL connection URL, e.g. postgres://user@host:5432/db
	// MaxConns bounds the PostgreSQL pool (default 20). Each running sync
	// holds one connection for its per-mirror advisory lock.
	MaxConns int32
}

// Store is an open database. It is safe for concurrent use.
type Store struct {
	driver string
	path   string // SQLite only
	db     *sql.DB
	pool   *pgxpool.Pool // PostgreSQL only
}

// Open opens (creating if needed) the database described by cfg and applies
// the schema migrations. Migrations are serialised between processes.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{driver: cfg.Driver}
	if s.driver == "" {
		s.driver = SQLite
	}
	switch s.driver {
	case SQLite:
		if cfg.Path == "" {
			return nil, errors.New("store: sqlite: no database path")
		}
		// One connection: SQLite allows one writer, and River's riversqlite
		// driver expects it (concurrent connections give SQLITE_BUSY).
		// _txlock=immediate takes the write lock at BEGIN, so a transaction
		// never fails half-way on a lock upgrade.
		dsn := "file:" + cfg.Path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: sqlite: open %s: %w", cfg.Path, err)
		}
		s.path = cfg.Path
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		s.db = db
	case Postgres:
		if cfg.URL == "" {
			return nil, errors.New("store: postgres: no database URL")
		}
		pcfg, err := pgxpool.ParseConfig(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("store: postgres: parse URL: %w", err)
		}
		pcfg.MaxConns = cfg.MaxConns
		if pcfg.MaxConns <= 0 {
			pcfg.MaxConns = 20
		}
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, fmt.Errorf("store: postgres: connect: %w", err)
		}
		s.pool = pool
		s.db = stdlib.OpenDBFromPool(pool)
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want %q or %q)", cfg.Driver, SQLite, Postgres)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %s: ping: %w", s.driver, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Path returns the SQLite database file ("" with PostgreSQL).
func (s *Store) Path() string { return s.path }

// Driver returns SQLite or Postgres.
func (s *Store) Driver() string { return s.driver }

// DB returns the database/sql handle (for SQLite, River's riversqlite driver
// must use this same handle: it has the only connection).
func (s *Store) DB() *sql.DB { return s.db }

// Pool returns the PostgreSQL pool for River's riverpgxv5 driver and for
// advisory locks; nil with SQLite.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the database.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// execOne runs the statement query (with ? placeholders) and reports
// whether it changed exactly one row; errors read "store: <what>: ...".
func (s *Store) execOne(ctx context.Context, what, query string, args ...any) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", what, err)
	}
	return n == 1, nil
}

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryAll runs query (with ? placeholders) and returns its rows as scan
// reads them; errors read "store: <what>: ...".
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// q rewrites ? placeholders as $1, $2, ... for PostgreSQL.
func (s *Store) q(query string) string {
	if s.driver != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func toMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
