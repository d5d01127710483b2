//go:build !unix

package hg

import "os"

// lockPrefix is the host name (lock.py adds the pid namespace only on Linux).
func lockPrefix() string {
	h, _ := os.Hostname()
	return h
}

// processGone cannot tell here: a lock is never broken as stale.
func processGone(pid int) bool { return false }
