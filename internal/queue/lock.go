package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/synchroniser/synchroniser/internal/store"
)

// locker serialises syncs of one mirror. River's unique jobs already keep a
// mirror to one running job, but a job rescued from a worker presumed dead
// (and in fact only slow) could run twice; the lock makes that impossible.
type locker interface {
	// tryLock takes the mirror's lock without waiting; ok is false if
	// another sync holds it.
	tryLock(ctx context.Context, mirror string) (unlock func(), ok bool, err error)
}

// fileLocker is the lock for SQLite: flock(2) on a file per mirror beside
// the database, so that processes sharing the database on this machine
// (serve --no-workers and workers) exclude each other, and the kernel frees
// the lock of a process that dies.
type fileLocker struct{ dir string }

func (l *fileLocker) tryLock(_ context.Context, mirror string) (func(), bool, error) {
	if err := os.MkdirAll(l.dir, 0o750); err != nil {
		return nil, false, fmt.Errorf("queue: lock %s: %w", mirror, err)
	}
	sum := sha256.Sum256([]byte(mirror)) // any mirror name gives a safe file name
	path := filepath.Join(l.dir, "sync-"+hex.EncodeToString(sum[:12])+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("queue: lock %s: %w", mirror, err)
	}
	// Each OpenFile is its own open file description, so two goroutines of
	// one process exclude each other too.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("queue: lock %s: flock %s: %w", mirror, path, err)
	}
	return func() { f.Close() }, true, nil // closing releases the lock
}

// fileMigrationLock serialises River's migrations between processes (serve
// and workers) opening one SQLite database at once: River's migrator checks
// for the version table and then creates it, and two of them racing there fail
// with "table river_migration already exists".
func fileMigrationLock(ctx context.Context, dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("queue: migration lock: %w", err)
	}
	path := filepath.Join(dir, "river-migrate.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue: migration lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("queue: migration lock: flock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("queue: migration lock: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockClass is the first key of our PostgreSQL advisory locks ("SYNC"),
// keeping them apart from other users of advisory locks.
const lockClass int32 = 0x53594e43

// migrationLockClass is the first key of the lock around River's migrations.
const migrationLockClass int32 = lockClass + 1

// pgLocker takes a session advisory lock on a connection it keeps for the
// whole sync: if the worker dies, PostgreSQL ends the session and frees it.
type pgLocker struct{ pool *pgxpool.Pool }

// advisoryKey is the second key of the advisory lock of a mirror or a
// worker id.
func advisoryKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

func (l *pgLocker) tryLock(ctx context.Context, mirror string) (func(), bool, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("queue: lock %s: %w", mirror, err)
	}
	key := advisoryKey(mirror)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", lockClass, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("queue: lock %s: %w", mirror, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var unlocked bool
		if err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1, $2)", lockClass, key).Scan(&unlocked); err != nil || !unlocked {
			// Closing the session is the sure way to free the lock.
			conn.Conn().Close(ctx) //nolint:errcheck // the session ends either way
		}
		conn.Release()
	}, true, nil
}

// pgMigrationLock serialises River's migrations between processes starting
// at once against one database.
func pgMigrationLock(ctx context.Context, s *store.Store) (func(), error) {
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue: migration lock: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", migrationLockClass, 0); err != nil {
		conn.Release()
		return nil, fmt.Errorf("queue: migration lock: %w", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", migrationLockClass, 0); err != nil {
			conn.Conn().Close(ctx) //nolint:errcheck // the session ends either way
		}
		conn.Release()
	}, nil
}
