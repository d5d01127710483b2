package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Liveness. A job belongs to a live worker only while that worker shows two
// signs of life that a dead process cannot give:
//
//   - its presence lock, held for the whole life of the process: flock(2) on
//     a file beside the SQLite database (one machine), or a PostgreSQL
//     session advisory lock on a connection of its own. The kernel or the
//     server frees it the moment the process dies (kill -9 included);
//   - its heartbeat in sync_worker, refreshed every Heartbeat. A machine that
//     hangs or drops off the network stops it.
//
// A worker is dead when its heartbeat is older than TakeoverAfter, or when
// its presence lock is free and its heartbeat has missed two beats (two
// beats, so that a worker whose database connection was just reset has time
// to take its lock again; and only when the judging process has reached the
// database for three passes in a row, since a database restart frees every
// lock at once). Every queue process checks the running jobs every
// Heartbeat and makes those of dead workers available again, routed to their
// mirror's home worker (see home.go). The per-mirror lock (lock.go) and lease
// (sync_lease) keep a job whose worker was wrongly judged dead from running
// twice at once.

// presence is a worker's presence lock.
type presence interface {
	// hold takes the lock of worker id for the life of the process; it
	// fails if a live process holds it (two workers with one id).
	hold(ctx context.Context, id string) (release func(), err error)
	// check verifies that the lock is still held, taking it again after
	// the database connection was lost.
	check(ctx context.Context) error
	// free reports whether no process holds the lock of worker id.
	free(ctx context.Context, id string) (bool, error)
}

// errIDInUse is returned by hold when another live process has the id.
var errIDInUse = errors.New("another live worker has this id")

// filePresence locks <dir>/worker-<hash>.lock.
type filePresence struct {
	dir  string
	held *os.File
}

func (p *filePresence) path(id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(p.dir, "worker-"+hex.EncodeToString(sum[:12])+".lock")
}

func (p *filePresence) hold(_ context.Context, id string) (func(), error) {
	if err := os.MkdirAll(p.dir, 0o750); err != nil {
		return nil, fmt.Errorf("queue: presence lock: %w", err)
	}
	f, err := os.OpenFile(p.path(id), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue: presence lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("queue: worker %q: %w", id, errIDInUse)
		}
		return nil, fmt.Errorf("queue: presence lock: %w", err)
	}
	p.held = f
	return func() { f.Close() }, nil
}

func (p *filePresence) check(context.Context) error { return nil }

func (p *filePresence) free(_ context.Context, id string) (bool, error) {
	f, err := os.OpenFile(p.path(id), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil // never held on this machine
	}
	if err != nil {
		return false, fmt.Errorf("queue: presence of %s: %w", id, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil
		}
		return false, fmt.Errorf("queue: presence of %s: %w", id, err)
	}
	return true, nil // closing releases it
}

// presenceLockClass is the first key of the workers' advisory locks.
const presenceLockClass int32 = lockClass + 2

// pgPresence holds a session advisory lock on a connection of its own (not
// the pool's, so that it never goes back to the pool).
type pgPresence struct {
	pool *pgxpool.Pool
	id   string
	conn *pgx.Conn
}

func (p *pgPresence) lock(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, p.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("queue: presence lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", presenceLockClass, advisoryKey(p.id)).Scan(&ok); err != nil {
		conn.Close(ctx)
		return fmt.Errorf("queue: presence lock: %w", err)
	}
	if !ok {
		conn.Close(ctx)
		return fmt.Errorf("queue: worker %q: %w", p.id, errIDInUse)
	}
	p.conn = conn
	return nil
}

func (p *pgPresence) hold(ctx context.Context, id string) (func(), error) {
	p.id = id
	if err := p.lock(ctx); err != nil {
		return nil, err
	}
	return func() {
		if p.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Unlocked in the session first: the server frees a closed
			// session's locks only once its backend has exited, after
			// Close returns, so a worker taking the id over at once
			// could still find it held.
			p.conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", presenceLockClass, advisoryKey(p.id)) //nolint:errcheck // closing frees it anyway
			p.conn.Close(ctx)                                                                           //nolint:errcheck // ending the session frees the lock
			p.conn = nil
		}
	}, nil
}

func (p *pgPresence) check(ctx context.Context) error {
	if p.conn != nil {
		if err := p.conn.Ping(ctx); err == nil {
			return nil
		}
		p.conn.Close(ctx) //nolint:errcheck // broken anyway
		p.conn = nil
	}
	return p.lock(ctx) // the server restarted: take the lock again
}

func (p *pgPresence) free(ctx context.Context, id string) (bool, error) {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("queue: presence of %s: %w", id, err)
	}
	defer conn.Release()
	var got bool
	key := advisoryKey(id)
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", presenceLockClass, key).Scan(&got); err != nil {
		return false, fmt.Errorf("queue: presence of %s: %w", id, err)
	}
	if got {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", presenceLockClass, key); err != nil {
			conn.Conn().Close(ctx) //nolint:errcheck // ending the session frees it
		}
	}
	return got, nil
}
