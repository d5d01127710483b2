package queue_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/queue"
)

// testWaitAtWorkEnd checks that Wait answers when the sync ends in this
// process, not when River's completer records it (in batches, up to 250ms
// later) nor at the next step of a polling back-off. It times the answer
// from the moment Work marked the job ended, so that the sync's own
// bookkeeping (slow on a loaded machine, with SQLite's writer lock) is not
// counted: what is left is one wake-up and one read of the job, where a
// poll would add up to 250ms.
func testWaitAtWorkEnd(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	f.syncer.started = make(chan string, 1)
	q := f.start(f.config())
	var lags []time.Duration
	for i := range 3 {
		f.syncer.gate = make(chan struct{})
		f.srcs["m1"].Push(t)
		id, err := q.Enqueue(context.Background(), "m1", queue.Push("github", "wait-"+string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		<-f.syncer.started
		type answer struct {
			j   *queue.Job
			err error
			at  time.Time
		}
		done := make(chan answer, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			j, err := q.Wait(ctx, id)
			done <- answer{j, err, time.Now()}
		}()
		time.Sleep(300 * time.Millisecond) // let Wait's back-off grow
		close(f.syncer.gate)
		a := <-done
		if a.err != nil || !a.j.Succeeded() || a.j.State != queue.StateCompleted {
			t.Fatalf("wait: %+v, %v", a.j, a.err)
		}
		marked := queue.MarkedAt(q, id)
		if marked.IsZero() {
			t.Fatal("the job's end was not marked")
		}
		lags = append(lags, a.at.Sub(marked))
	}
	slices.Sort(lags)
	t.Logf("work marked the end → Wait answered: %v", lags)
	if lags[1] > 100*time.Millisecond {
		t.Fatalf("median end → answer %v, want ≤ 100ms (one wake-up and one read; a poll step is 250ms)", lags[1])
	}
}

// testWaitEndBetweenReads: a sync that ends after Wait has read the job
// (its run still running) is answered with the success it is, not paired
// with the stale run as a failure.
func testWaitEndBetweenReads(t *testing.T, driver string) {
	f := newFixture(t, driver, "m1")
	f.syncer.started = make(chan string, 1)
	f.syncer.gate = make(chan struct{})
	q := f.start(f.config())
	var once sync.Once
	queue.SetAfterJobRead(q, func(id int64) {
		once.Do(func() {
			// Wait has read the job while the sync runs: let it end now.
			close(f.syncer.gate)
			for !queue.Marked(q, id) {
				time.Sleep(time.Millisecond)
			}
		})
	})
	f.srcs["m1"].Push(t)
	id, err := q.Enqueue(context.Background(), "m1", queue.Push("github", "between-reads"))
	if err != nil {
		t.Fatal(err)
	}
	<-f.syncer.started
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := q.Wait(ctx, id)
	if err != nil || !j.Succeeded() {
		t.Fatalf("wait: %+v, %v", j, err)
	}
}
