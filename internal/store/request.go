package store

import (
	"context"
	"fmt"
	"time"
)

// Sync requests implement coalescing without losing a push. Each request
// (a push) bumps a per-mirror sequence number. A sync reads the number before
// it pulls (BeginSync) and, when it is done, claims completion only if the
// number has not moved (FinishIfUnchanged); otherwise pushes arrived during
// the run and the job runs once more. FinishIfUnchanged leaves the job's id
// in finishing_job, so that a request racing with the end of that job can
// tell (RequestSync returns it) and queue a new job once the old one is no
// longer running.

// Request is the state of a mirror's sync requests.
type Request struct {
	Mirror      string
	Seq         int64 // bumped by every RequestSync
	Requested   time.Time
	TriggerKind string // of the latest request
	Provider    string
	DeliveryID  string
	// FinishingJob is the job that passed its final check and is about to
	// complete (0 if none): a request that finds this job still running
	// must queue a new job after it, or its push would be missed.
	FinishingJob int64
}

// RequestSync records a sync request for mirror and returns the state after
// it, atomically.
func (s *Store) RequestSync(ctx context.Context, mirror, triggerKind, provider, deliveryID string) (*Request, error) {
	r := &Request{Mirror: mirror, TriggerKind: triggerKind, Provider: provider, DeliveryID: deliveryID, Requested: time.Now().UTC()}
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO sync_request (mirror, seq, requested_at, trigger_kind, provider, delivery_id)
		VALUES (?, 1, ?, ?, ?, ?)
		ON CONFLICT (mirror) DO UPDATE SET seq = sync_request.seq + 1, requested_at = excluded.requested_at,
			trigger_kind = excluded.trigger_kind, provider = excluded.provider, delivery_id = excluded.delivery_id
		RETURNING seq, finishing_job`),
		mirror, toMicros(r.Requested), triggerKind, provider, deliveryID).Scan(&r.Seq, &r.FinishingJob)
	if err != nil {
		return nil, fmt.Errorf("store: request sync of %s: %w", mirror, err)
	}
	return r, nil
}

// BeginSync is called by a sync before it pulls: it clears the finishing
// mark and returns the current request state (Seq 0 if never requested).
func (s *Store) BeginSync(ctx context.Context, mirror string) (*Request, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sync_request (mirror) VALUES (?)
		ON CONFLICT (mirror) DO UPDATE SET finishing_job = 0`), mirror); err != nil {
		return nil, fmt.Errorf("store: begin sync of %s: %w", mirror, err)
	}
	r := &Request{Mirror: mirror}
	var requested int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT seq, requested_at, trigger_kind, provider, delivery_id, finishing_job
		FROM sync_request WHERE mirror = ?`), mirror).Scan(&r.Seq, &requested, &r.TriggerKind, &r.Provider, &r.DeliveryID, &r.FinishingJob)
	if err != nil {
		return nil, fmt.Errorf("store: begin sync of %s: %w", mirror, err)
	}
	r.Requested = fromMicros(requested)
	return r, nil
}

// FinishIfUnchanged reports whether no sync was requested for mirror since
// BeginSync returned seq; if so it marks jobID as finishing, atomically.
func (s *Store) FinishIfUnchanged(ctx context.Context, mirror string, seq, jobID int64) (bool, error) {
	return s.execOne(ctx, "finish sync of "+mirror, `UPDATE sync_request SET finishing_job = ? WHERE mirror = ? AND seq = ?`,
		jobID, mirror, seq)
}
