package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http/cookiejar"
	"testing"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/queue"
	"github.com/synchroniser/synchroniser/internal/store"
)

// testQueue is the real queue, insert-only (no workers: web never syncs),
// seen through web's Queue interface. cmd/synchroniser wires the full one.
type testQueue struct {
	q  *queue.Queue
	st *store.Store
}

func newTestQueue(t testing.TB, cfg *config.Config, st *store.Store, log *slog.Logger) Queue {
	t.Helper()
	ctx := context.Background()
	q, err := queue.New(ctx, queue.Config{Store: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	return &testQueue{q: q, st: st}
}

func (tq *testQueue) Submit(ctx context.Context, m mirror.Mirror, t Trigger) (*Submission, error) {
	sub, err := tq.q.Submit(ctx, m.Name, queue.Trigger{Kind: t.Kind, Provider: t.Provider, DeliveryID: t.DeliveryID})
	if err != nil {
		return nil, err
	}
	return &Submission{JobID: sub.JobID, Replayed: sub.Replayed, Coalesced: sub.Coalesced}, nil
}

func (tq *testQueue) Job(ctx context.Context, id int64) (*Job, error) {
	j, err := tq.q.Job(ctx, id)
	if errors.Is(err, queue.ErrNotFound) {
		return nil, ErrJobNotFound
	}
	if err != nil {
		return nil, err
	}
	state := JobQueued
	if j.Done() {
		state = JobFailed
		if j.Succeeded() {
			state = JobSucceeded
		}
	}
	return &Job{ID: j.ID, Mirror: j.Mirror, State: state, Attempt: j.Attempt, Created: j.Created}, nil
}

func (tq *testQueue) Wait(ctx context.Context, id int64) (*Job, error) {
	if _, err := tq.q.Wait(ctx, id); err != nil {
		return nil, err
	}
	return tq.Job(ctx, id)
}

func (tq *testQueue) Depth(ctx context.Context) (int, error) {
	var n int
	err := tq.st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'sync' AND finalized_at IS NULL`).Scan(&n)
	return n, err
}

func newCookieJar() (*cookiejar.Jar, error) { return cookiejar.New(nil) }
