package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Delivery is a webhook delivery as the provider identified it.
type Delivery struct {
	Provider   string
	DeliveryID string
	Mirror     string
	Received   time.Time
	JobID      int64 // the job it was queued as; 0 until AttachJob
}

// RecordDelivery records a delivery and reports whether it is new. A
// delivery already recorded (the provider replayed it) is not new, and its
// sync must not be queued again. An empty deliveryID is always new (the
// provider gives none, so replays cannot be recognised).
func (s *Store) RecordDelivery(ctx context.Context, provider, deliveryID, mirror string) (bool, error) {
	if deliveryID == "" {
		return true, nil
	}
	return s.execOne(ctx, fmt.Sprintf("record delivery %s %s", provider, deliveryID), `INSERT INTO delivery (provider, delivery_id, mirror, received_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (provider, delivery_id) DO NOTHING`,
		provider, deliveryID, mirror, toMicros(time.Now()))
}

// AttachJob records the job a delivery was queued as.
func (s *Store) AttachJob(ctx context.Context, provider, deliveryID string, jobID int64) error {
	if deliveryID == "" {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE delivery SET job_id = ? WHERE provider = ? AND delivery_id = ?`),
		jobID, provider, deliveryID); err != nil {
		return fmt.Errorf("store: attach job to delivery %s %s: %w", provider, deliveryID, err)
	}
	return nil
}

// Delivery returns a recorded delivery, or ErrNotFound.
func (s *Store) Delivery(ctx context.Context, provider, deliveryID string) (*Delivery, error) {
	d := Delivery{Provider: provider, DeliveryID: deliveryID}
	var received int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT mirror, received_at, job_id FROM delivery
		WHERE provider = ? AND delivery_id = ?`), provider, deliveryID).Scan(&d.Mirror, &received, &d.JobID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: delivery %s %s: %w", provider, deliveryID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: delivery %s %s: %w", provider, deliveryID, err)
	}
	d.Received = fromMicros(received)
	return &d, nil
}
