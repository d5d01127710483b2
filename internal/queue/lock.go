package queue

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
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

// memLocker is the lock for SQLite, whose database one process owns.
type memLocker struct {
	mu   sync.Mutex
	held map[string]bool
}

func newMemLocker() *memLocker { return &memLocker{held: map[string]bool{}} }

func (l *memLocker) tryLock(_ context.Context, mirror string) (func(), bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[mirror] {
		return nil, false, nil
	}
	l.held[mirror] = true
	return func() {
		l.mu.Lock()
		delete(l.held, mirror)
		l.mu.Unlock()
	}, true, nil
}

// lockClass is the first key of our PostgreSQL advisory locks ("SYNC"),
// keeping them apart from other users of advisory locks.
const lockClass int32 = 0x53594e43

// migrationLockClass is the first key of the lock around River's migrations.
const migrationLockClass int32 = lockClass + 1

// pgLocker takes a session advisory lock on a connection it keeps for the
// whole sync: if the worker dies, PostgreSQL ends the session and frees it.
type pgLocker struct{ pool *pgxpool.Pool }

func mirrorKey(mirror string) int32 {
	h := fnv.New32a()
	h.Write([]byte(mirror))
	return int32(h.Sum32())
}

func (l *pgLocker) tryLock(ctx context.Context, mirror string) (func(), bool, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("queue: lock %s: %w", mirror, err)
	}
	key := mirrorKey(mirror)
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
