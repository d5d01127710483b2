package hg

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// Lock is a Mercurial lock (a symlink to "host:pid", as lock.py makes it).
type Lock struct{ path string }

// AcquireLock takes the lock at path (".hg/store/lock" or ".hg/wlock"),
// waiting up to wait for a live holder and breaking a lock whose process
// on this host is gone.
func AcquireLock(path string, wait time.Duration) (*Lock, error) {
	me := lockPrefix() + ":" + strconv.Itoa(os.Getpid())
	deadline := time.Now().Add(wait)
	for {
		err := os.Symlink(me, path)
		if err == nil {
			return &Lock{path: path}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("hg: lock %s: %w", path, err)
		}
		holder, rerr := os.Readlink(path)
		if rerr == nil {
			if host, pid, ok := strings.Cut(holder, ":"); ok && host == lockPrefix() {
				if n, perr := strconv.Atoi(pid); perr == nil && n > 0 {
					if processGone(n) {
						os.Remove(path) // stale: its process is gone
						continue
					}
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("hg: lock %s is held by %q", path, holder)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Release releases the lock.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	return os.Remove(l.path)
}
