//go:build !unix

package git

import "os/exec"

func setProcessGroup(cmd *exec.Cmd) {}
