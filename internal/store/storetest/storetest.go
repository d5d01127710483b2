// Package storetest gives tests a fresh database on every driver: a temporary
// SQLite file, or a new PostgreSQL database (synchroniser_test_<random>) on
// the server named by $SYNCHRONISER_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres), dropped when the test ends.
// PostgreSQL is always required: a test that cannot reach it fails.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/synchroniser/synchroniser/internal/store"
)

// Drivers lists the drivers that every conformance test runs against.
var Drivers = []string{store.SQLite, store.Postgres}

// EachDriver runs test once for every driver, each as a parallel subtest
// named for its driver.
func EachDriver(t *testing.T, test func(t *testing.T, driver string)) {
	t.Helper()
	for _, driver := range Drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			test(t, driver)
		})
	}
}

// DefaultServer is the PostgreSQL server used when
// $SYNCHRONISER_TEST_DATABASE_URL is unset.
const DefaultServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Server returns the URL of the PostgreSQL maintenance database used to
// create and drop test databases.
func Server() string {
	if u := os.Getenv("SYNCHRONISER_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultServer
}

// Config returns the configuration of a fresh, empty database for driver.
// The database is removed when the test ends. A PostgreSQL server that
// cannot be reached fails the test: it is never skipped.
func Config(tb testing.TB, driver string) store.Config {
	tb.Helper()
	switch driver {
	case store.SQLite:
		return store.Config{Driver: store.SQLite, Path: filepath.Join(tb.TempDir(), "synchroniser.db")}
	case store.Postgres:
		return store.Config{Driver: store.Postgres, URL: NewDatabase(tb)}
	}
	tb.Fatalf("storetest: unknown driver %q", driver)
	return store.Config{}
}

// NewDatabase creates a PostgreSQL database named synchroniser_test_<random>
// and returns its URL; it is dropped (with FORCE) when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, Server())
	if err != nil {
		tb.Fatalf("storetest: connect to PostgreSQL (%s): %v", redacted(Server()), err)
	}
	defer admin.Close(context.Background())
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	name := "synchroniser_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("storetest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, Server())
		if err != nil {
			tb.Errorf("storetest: drop database %s: %v", name, err)
			return
		}
		defer admin.Close(context.Background())
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(Server())
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open opens a store on a fresh database for driver, closed when the test ends.
func Open(tb testing.TB, driver string) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, Config(tb, driver))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
