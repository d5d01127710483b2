package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// lockFile is the name of the lock file in a mirror's cache directory.
const lockFile = "lock"

// inproc holds one semaphore per lock file path: flock(2) locks belong to an
// open file description, so the process serialises its own goroutines first.
var inproc sync.Map // path → chan struct{}

// lockPoll is how often a busy flock is retried.
const lockPoll = 50 * time.Millisecond

// Lock takes the exclusive lock of the mirror whose cache directory is dir
// (created if missing): an in-process mutex, then flock(2) on dir/lock, so
// two syncs of one mirror never run at once on a machine, whichever process
// runs them. It waits until the lock is free or ctx is done (then a Transient
// *Error). The returned function releases the lock.
func Lock(ctx context.Context, dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &Error{Op: "lock", Class: Internal, Err: err}
	}
	path := filepath.Join(dir, lockFile)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	v, _ := inproc.LoadOrStore(path, make(chan struct{}, 1))
	sem := v.(chan struct{})
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, busy(dir, ctx.Err())
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		<-sem
		return nil, &Error{Op: "lock", Class: Internal, Err: err}
	}
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			<-sem
			return nil, &Error{Op: "lock", Class: Internal, Err: fmt.Errorf("flock %s: %w", path, err)}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			f.Close()
			<-sem
			return nil, busy(dir, ctx.Err())
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
			<-sem
		})
	}, nil
}

func busy(dir string, err error) error {
	return &Error{Op: "lock", Class: Transient, Err: fmt.Errorf("mirror cache %s is busy (another sync is running): %w", dir, err)}
}
