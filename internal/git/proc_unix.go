//go:build unix

package git

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts git in its own process group and makes cancellation
// kill the whole group, so that ssh and remote helpers die with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
