package queue

import (
	"fmt"
	"testing"

	"github.com/synchroniser/synchroniser/internal/store"
)

func workers(ids ...string) []store.Worker {
	var ws []store.Worker
	for _, id := range ids {
		ws = append(ws, store.Worker{ID: id, Queue: workerQueue(id)})
	}
	return ws
}

// TestHomeOf checks the rendezvous rule: homes spread over the workers; a
// worker leaving moves only its own mirrors; a worker joining takes
// mirrors only for itself.
func TestHomeOf(t *testing.T) {
	var mirrors []string
	for i := range 300 {
		mirrors = append(mirrors, fmt.Sprintf("team/repo-%d", i))
	}
	three := workers("a", "b", "c")
	homes := map[string]string{}
	count := map[string]int{}
	for _, m := range mirrors {
		homes[m] = homeOf(three, m).ID
		count[homes[m]]++
	}
	for _, id := range []string{"a", "b", "c"} {
		if count[id] < 60 {
			t.Errorf("worker %s is home of %d of 300 mirrors: %v", id, count[id], count)
		}
	}
	for _, m := range mirrors {
		after := homeOf(workers("a", "c"), m).ID
		if homes[m] != "b" && after != homes[m] {
			t.Errorf("%s moved from %s to %s when b left", m, homes[m], after)
		}
		joined := homeOf(workers("a", "b", "c", "d"), m).ID
		if joined != homes[m] && joined != "d" {
			t.Errorf("%s moved from %s to %s when d joined", m, homes[m], joined)
		}
	}
	if homeOf(nil, "x") != nil {
		t.Error("a home among no workers")
	}
	if homeQueue(nil, "x") != "default" {
		t.Error("no live worker: want River's default queue")
	}
	if q := workerQueue("Host.Example-1234"); len(q) > 64 || q != workerQueue("Host.Example-1234") {
		t.Errorf("queue name %q", q)
	}
}
