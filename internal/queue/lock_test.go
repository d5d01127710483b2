package queue

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/synchroniser/synchroniser/internal/store"
)

func TestFileLocker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	a, b := &fileLocker{dir: dir}, &fileLocker{dir: dir} // two processes' lockers
	unlock, ok, err := a.tryLock(ctx, "m/with odd:name")
	if err != nil || !ok {
		t.Fatalf("first lock: %v %v", ok, err)
	}
	for _, l := range []*fileLocker{a, b} {
		if _, ok, err := l.tryLock(ctx, "m/with odd:name"); err != nil || ok {
			t.Fatalf("second lock of a held mirror: ok=%v err=%v", ok, err)
		}
	}
	other, ok, err := b.tryLock(ctx, "other")
	if err != nil || !ok {
		t.Fatalf("lock of another mirror: %v %v", ok, err)
	}
	other()
	unlock()
	again, ok, err := b.tryLock(ctx, "m/with odd:name")
	if err != nil || !ok {
		t.Fatalf("lock after unlock: %v %v", ok, err)
	}
	again()
}

// TestSQLiteMigrationsConcurrent opens one new SQLite database from several
// stores at once (serve and a worker starting together): River's migrations
// must not race ("table river_migration already exists").
func TestSQLiteMigrationsConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "synchroniser.db")
	const n = 4
	stores := make([]*store.Store, n)
	for i := range stores {
		st, err := store.Open(context.Background(), store.Config{Driver: store.SQLite, Path: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = st
	}
	errs := make(chan error, n)
	for _, st := range stores {
		go func() {
			_, err := New(context.Background(), Config{Store: st})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("queue.New: %v", err)
		}
	}
}
