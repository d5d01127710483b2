//go:build unix

package kitrun

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is a long-running program (a server, a worker) that a test or a
// benchmark starts, watches through its output and stops. It runs in a
// process group of its own, so that Kill takes its hg and git children with
// it, as systemd's control group does.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	// Output returns what the program has written so far.
	Output func() string
	done   chan struct{}
}

// Start starts cmd (its environment and output already set) in a process
// group of its own; output reads back what it writes.
func Start(name string, cmd *exec.Cmd, output func() string) (*Process, error) {
	p := &Process{Name: name, Cmd: cmd, Output: output, done: make(chan struct{})}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait() //nolint:errcheck // exit status read through ProcessState
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Kill sends SIGKILL to the process group and waits for the exit.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // our own child's group
	<-p.done
}

// Term sends SIGTERM and waits up to d for the exit; the exit status is in
// p.Cmd.ProcessState.
func (p *Process) Term(d time.Duration) error {
	p.Cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // may have exited
	select {
	case <-p.done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("%s did not stop within %v of SIGTERM", p.Name, d)
	}
}

// WaitOutput waits up to d until the output contains s; the process
// exiting first is an error.
func (p *Process) WaitOutput(s string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for !strings.Contains(p.Output(), s) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before logging %q", p.Name, p.Cmd.ProcessState, s)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not log %q within %v", p.Name, s, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
