//go:build unix

package hg

import (
	"os/exec"
	"syscall"
)

// setProcessGroup runs hg in its own process group so that a timeout also
// ends its children (ssh).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
