//go:build unix

package hg

import (
	"os"
	"strconv"
	"syscall"
)

// lockPrefix is what lock.py writes before ":pid": the host name and, on
// Linux, the pid namespace.
func lockPrefix() string {
	h, _ := os.Hostname()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/pid", &st); err == nil {
		h += "/" + strconv.FormatUint(st.Ino, 16)
	}
	return h
}

// processGone reports whether no process has pid on this host.
func processGone(pid int) bool { return syscall.Kill(pid, 0) == syscall.ESRCH }
