//go:build !unix

package command

import "os/exec"

// setProcessGroup does nothing where there are no process groups: the
// context kills the process itself.
func setProcessGroup(cmd *exec.Cmd) {}
