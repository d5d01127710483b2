//go:build !unix

package hg

import "os/exec"

func setProcessGroup(cmd *exec.Cmd) {}
