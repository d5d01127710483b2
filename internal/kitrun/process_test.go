//go:build unix

package kitrun

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestProcessKillTakesGroup starts a shell that leaves a child behind, waits
// for its output and kills the group: Kill returns once it has exited, and
// waiting for output of an exited process is an error.
func TestProcessKillTakesGroup(t *testing.T) {
	t.Parallel()
	var out Buffer
	cmd := exec.Command("sh", "-c", "sleep 60 & echo up; wait")
	cmd.Stdout, cmd.Stderr = &out, &out
	p, err := Start("sh", cmd, out.String)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitOutput("up", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	select {
	case <-p.Done():
	default:
		t.Fatal("Kill returned before the exit")
	}
	if err := p.WaitOutput("never", time.Second); err == nil || !strings.Contains(err.Error(), "sh exited") {
		t.Errorf("WaitOutput after exit = %v", err)
	}
	if err := p.Term(time.Second); err != nil {
		t.Errorf("Term of an exited process = %v", err)
	}
}
