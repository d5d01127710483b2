package mirror

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestLockInProcess(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "m")
	ctx := context.Background()
	var running, max atomic.Int32
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			unlock, err := Lock(ctx, dir)
			if err != nil {
				t.Error(err)
				return
			}
			if n := running.Add(1); n > max.Load() {
				max.Store(n)
			}
			time.Sleep(20 * time.Millisecond)
			running.Add(-1)
			unlock()
		}()
	}
	for range 4 {
		<-done
	}
	if max.Load() != 1 {
		t.Errorf("%d syncs held the lock at once", max.Load())
	}
}

// TestLockOtherProcess holds the flock through another open file description,
// as another process would.
func TestLockOtherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, dir); err == nil || ClassOf(err) != Transient {
		t.Fatalf("Lock while held elsewhere = %v, want a Transient busy error", err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(100 * time.Millisecond)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}()
	defer func() { <-released }()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	unlock, err := Lock(ctx2, dir)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	unlock()
	unlock() // idempotent
}
