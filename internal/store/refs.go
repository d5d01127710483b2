package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RefLease is what a mirror last pushed to one destination ref: Value is the
// Git commit (40 hex). RewrittenFrom and RewrittenAt record the ref's last
// rewrite ("" and zero when none).
type RefLease struct {
	Ref           string
	Value         string
	PushedAt      time.Time
	RewrittenFrom string
	RewrittenAt   time.Time
}

// RefLeases returns mirror's ref leases, sorted by ref (none for a mirror never
// pushed).
func (s *Store) RefLeases(ctx context.Context, mirror string) ([]RefLease, error) {
	return queryAll(ctx, s, "leases of "+mirror, scanRefLease, `SELECT ref, value, pushed_at, rewritten_from, rewritten_at
		FROM ref_lease WHERE mirror = ? ORDER BY ref`, mirror)
}

func scanRefLease(sc scanner) (RefLease, error) {
	var l RefLease
	var pushed, rewritten int64
	if err := sc.Scan(&l.Ref, &l.Value, &pushed, &l.RewrittenFrom, &rewritten); err != nil {
		return RefLease{}, err
	}
	l.PushedAt, l.RewrittenAt = fromMicros(pushed), fromMicros(rewritten)
	return l, nil
}

// SaveRefs replaces mirror's leases with leases (writing only those that
// changed) and its ref states with refs (a JSON array), in one
// transaction.
func (s *Store) SaveRefs(ctx context.Context, mirror string, leases []RefLease, refs json.RawMessage) error {
	if mirror == "" {
		return fmt.Errorf("store: save refs: no mirror")
	}
	if len(refs) == 0 {
		refs = json.RawMessage("[]")
	}
	if !json.Valid(refs) {
		return fmt.Errorf("store: save refs of %s: refs are not JSON", mirror)
	}
	old, err := s.RefLeases(ctx, mirror)
	if err != nil {
		return err
	}
	have := make(map[string]RefLease, len(old))
	for _, l := range old {
		have[l.Ref] = l
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save refs of %s: %w", mirror, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	keep := make(map[string]bool, len(leases))
	var changed []RefLease
	for _, l := range leases {
		keep[l.Ref] = true
		if o, ok := have[l.Ref]; ok && o.Value == l.Value && o.PushedAt.Equal(l.PushedAt) &&
			o.RewrittenFrom == l.RewrittenFrom && o.RewrittenAt.Equal(l.RewrittenAt) {
			continue
		}
		changed = append(changed, l)
	}
	var gone []string
	for ref := range have {
		if !keep[ref] {
			gone = append(gone, ref)
		}
	}
	// Many rows per statement: a mirror may have thousands of refs.
	const batch = 500
	for len(changed) > 0 {
		n := min(batch, len(changed))
		var b strings.Builder
		args := make([]any, 0, 6*n)
		b.WriteString(`INSERT INTO ref_lease (mirror, ref, value, pushed_at, rewritten_from, rewritten_at) VALUES `)
		for i, l := range changed[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?)")
			args = append(args, mirror, l.Ref, l.Value, toMicros(l.PushedAt), l.RewrittenFrom, toMicros(l.RewrittenAt))
		}
		b.WriteString(` ON CONFLICT (mirror, ref) DO UPDATE SET value = excluded.value, pushed_at = excluded.pushed_at,
			rewritten_from = excluded.rewritten_from, rewritten_at = excluded.rewritten_at`)
		if _, err := tx.ExecContext(ctx, s.q(b.String()), args...); err != nil {
			return fmt.Errorf("store: save leases of %s: %w", mirror, err)
		}
		changed = changed[n:]
	}
	for len(gone) > 0 {
		n := min(batch, len(gone))
		args := []any{mirror}
		for _, ref := range gone[:n] {
			args = append(args, ref)
		}
		q := `DELETE FROM ref_lease WHERE mirror = ? AND ref IN (?` + strings.Repeat(", ?", n-1) + `)`
		if _, err := tx.ExecContext(ctx, s.q(q), args...); err != nil {
			return fmt.Errorf("store: drop leases of %s: %w", mirror, err)
		}
		gone = gone[n:]
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO mirror_refs (mirror, refs, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (mirror) DO UPDATE SET refs = excluded.refs, updated_at = excluded.updated_at`),
		mirror, string(refs), toMicros(time.Now())); err != nil {
		return fmt.Errorf("store: save refs of %s: %w", mirror, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save refs of %s: %w", mirror, err)
	}
	return nil
}

// MirrorRefs returns the ref states mirror's latest sync saved (a JSON
// array) and when; ErrNotFound when none was saved.
func (s *Store) MirrorRefs(ctx context.Context, mirror string) (json.RawMessage, time.Time, error) {
	var refs string
	var at int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT refs, updated_at FROM mirror_refs WHERE mirror = ?`), mirror).Scan(&refs, &at)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, time.Time{}, fmt.Errorf("store: refs of %s: %w", mirror, ErrNotFound)
		}
		return nil, time.Time{}, fmt.Errorf("store: refs of %s: %w", mirror, err)
	}
	return json.RawMessage(refs), fromMicros(at), nil
}
