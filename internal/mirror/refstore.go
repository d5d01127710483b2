package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/store"
)

// RefStore keeps, per mirror, the leases (what the mirror last pushed to
// each destination ref) and the refs' states after the latest sync. The
// service keeps them in its database (see the store package); without
// one, a Syncer keeps them in a file in the mirror's cache directory.
type RefStore interface {
	// Leases returns the mirror's leases by ref (empty, not an error, for
	// a mirror never pushed).
	Leases(ctx context.Context, mirror string) (map[string]Lease, error)
	// SaveRefs replaces the mirror's leases and ref states.
	SaveRefs(ctx context.Context, mirror string, leases map[string]Lease, refs []RefStatus) error
}

// refStore returns the Syncer's RefStore, or the mirror's file.
func (s *Syncer) refStore(name string) RefStore {
	if s.Refs != nil {
		return s.Refs
	}
	return fileRefStore{path: filepath.Join(s.CacheDir, name, refsFile)}
}

// refsFile, in a mirror's cache directory, keeps its leases when the
// Syncer has no RefStore (the command line).
const refsFile = "refs.json"

type fileRefStore struct{ path string }

type refsDoc struct {
	Leases map[string]Lease `json:"leases"`
	Refs   []RefStatus      `json:"refs"`
}

func (f fileRefStore) read() (*refsDoc, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return &refsDoc{}, nil
	}
	if err != nil {
		return nil, err
	}
	var d refsDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return &d, nil
}

func (f fileRefStore) Leases(context.Context, string) (map[string]Lease, error) {
	d, err := f.read()
	if err != nil {
		return nil, err
	}
	if d.Leases == nil {
		d.Leases = map[string]Lease{}
	}
	return d.Leases, nil
}

// Refs returns the ref states the latest sync left (nil when none).
func (f fileRefStore) Refs() ([]RefStatus, error) {
	d, err := f.read()
	if err != nil {
		return nil, err
	}
	return d.Refs, nil
}

func (f fileRefStore) SaveRefs(_ context.Context, _ string, leases map[string]Lease, refs []RefStatus) error {
	b, err := json.MarshalIndent(refsDoc{Leases: leases, Refs: refs}, "", " ")
	if err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, f.path)
}

// DBRefs keeps leases and ref states in the service's database.
type DBRefs struct{ Store *store.Store }

// Leases implements RefStore.
func (d DBRefs) Leases(ctx context.Context, mirror string) (map[string]Lease, error) {
	ls, err := d.Store.RefLeases(ctx, mirror)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Lease, len(ls))
	for _, l := range ls {
		v, err := git.ParseHash(l.Value)
		if err != nil {
			continue // not a lease this version wrote: as if none
		}
		from, _ := git.ParseHash(l.RewrittenFrom)
		out[l.Ref] = Lease{Value: v, PushedAt: l.PushedAt, RewrittenFrom: from, RewrittenAt: l.RewrittenAt}
	}
	return out, nil
}

// SaveRefs implements RefStore.
func (d DBRefs) SaveRefs(ctx context.Context, mirror string, leases map[string]Lease, refs []RefStatus) error {
	ls := make([]store.RefLease, 0, len(leases))
	for _, ref := range sortedKeys(leases) {
		l := leases[ref]
		sl := store.RefLease{Ref: ref, Value: l.Value.String(), PushedAt: l.PushedAt, RewrittenAt: l.RewrittenAt}
		if !l.RewrittenFrom.IsZero() {
			sl.RewrittenFrom = l.RewrittenFrom.String()
		}
		ls = append(ls, sl)
	}
	if refs == nil {
		refs = []RefStatus{}
	}
	b, err := json.Marshal(refs)
	if err != nil {
		return err
	}
	return d.Store.SaveRefs(ctx, mirror, ls, b)
}

// LoadRefs returns the ref states mirror's latest sync saved in st, and
// when (nil when none).
func LoadRefs(ctx context.Context, st *store.Store, mirror string) ([]RefStatus, time.Time, error) {
	b, at, err := st.MirrorRefs(ctx, mirror)
	if errors.Is(err, store.ErrNotFound) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	var refs []RefStatus
	if err := json.Unmarshal(b, &refs); err != nil {
		return nil, time.Time{}, fmt.Errorf("refs of %s: %w", mirror, err)
	}
	return refs, at, nil
}
