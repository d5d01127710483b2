package mirror

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/git"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	// History: a ← b ← c; x unrelated; "gone" is not in the local
	// repository. Markers rewrite b into x; c was pruned.
	A, B, C, X, Gone := hh("a"), hh("b"), hh("c"), hh("x"), hh("gone")
	names := map[git.Hash]string{A: "a", B: "b", C: "c", X: "x", Gone: "gone"}
	anc := func(old, new git.Hash) (bool, bool, error) {
		order := map[git.Hash]int{A: 1, B: 2, C: 3}
		if old == Gone {
			return false, false, nil
		}
		o, ok1 := order[old]
		n, ok2 := order[new]
		return ok1 && ok2 && o <= n, true, nil
	}
	proof := func(old, new git.Hash) (bool, string, error) {
		switch {
		case old == B && new == X:
			return true, "b rewritten into x", nil
		case old == C && (new == B || new == A):
			return true, "c pruned", nil
		}
		return false, "no marker", nil
	}
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	ok := func(ref string, h git.Hash) wantRef {
		return wantRef{RefStatus: RefStatus{Ref: ref, Origin: OriginBookmark, Name: strings.TrimPrefix(ref, "refs/heads/")}, Value: h}
	}
	m := "refs/heads/m"
	lease := func(h git.Hash) map[string]Lease { return map[string]Lease{m: {Value: h}} }
	tests := []struct {
		name    string
		policy  RefPolicy
		want    []wantRef
		have    map[string]git.Hash
		leases  map[string]Lease
		updates []string // "REF OLD NEW" (names, "-" for zero)
		states  []string // "REF STATE"
		leased  []string // "REF VALUE" after the plan
	}{
		{"up to date adopts the lease", RefPolicy{}, []wantRef{ok(m, C)}, map[string]git.Hash{m: C}, nil,
			nil, []string{m + " up-to-date"}, []string{m + " c"}},
		{"create", RefPolicy{}, []wantRef{ok(m, C)}, nil, nil,
			[]string{m + " - c"}, []string{m + " created"}, []string{m + " c"}},
		{"fast-forward; others' refs untouched", RefPolicy{}, []wantRef{ok(m, C)}, map[string]git.Hash{m: A, "refs/heads/extra": X}, nil,
			[]string{m + " a c"}, []string{m + " updated"}, []string{m + " c"}},
		{"non-ff without a lease is refused", RefPolicy{}, []wantRef{ok(m, X)}, map[string]git.Hash{m: B}, nil,
			nil, []string{m + " refused-diverged"}, nil},
		{"rewrite proven by markers", RefPolicy{}, []wantRef{ok(m, X)}, map[string]git.Hash{m: B}, lease(B),
			[]string{m + " b x"}, []string{m + " rewritten"}, []string{m + " x"}},
		{"prune back to an ancestor", RefPolicy{}, []wantRef{ok(m, A)}, map[string]git.Hash{m: C}, lease(C),
			[]string{m + " c a"}, []string{m + " rewritten"}, []string{m + " a"}},
		{"no marker: refused", RefPolicy{}, []wantRef{ok(m, X)}, map[string]git.Hash{m: C}, lease(C),
			nil, []string{m + " refused-diverged"}, []string{m + " c"}},
		{"destination changed by someone else", RefPolicy{}, []wantRef{ok(m, X)}, map[string]git.Hash{m: B}, lease(A),
			nil, []string{m + " refused-diverged"}, []string{m + " a"}},
		{"unknown destination commit", RefPolicy{}, []wantRef{ok(m, C)}, map[string]git.Hash{m: Gone}, lease(Gone),
			nil, []string{m + " refused-diverged"}, []string{m + " gone"}},
		{"rewrites = refuse", RefPolicy{Rewrites: RewritesRefuse}, []wantRef{ok(m, X)}, map[string]git.Hash{m: B}, lease(B),
			nil, []string{m + " refused-diverged"}, []string{m + " b"}},
		{"force", RefPolicy{Force: true, Rewrites: RewritesRefuse}, []wantRef{ok(m, X), ok("refs/tags/v1", C)}, map[string]git.Hash{m: C, "refs/tags/v1": A}, nil,
			[]string{m + " c x", "refs/tags/v1 a c"}, []string{m + " rewritten", "refs/tags/v1 rewritten"}, []string{m + " x", "refs/tags/v1 c"}},
		{"moved tag refused", RefPolicy{}, []wantRef{ok("refs/tags/v1", C)}, map[string]git.Hash{"refs/tags/v1": A}, nil,
			nil, []string{"refs/tags/v1 refused-diverged"}, nil},
		{"deleted bookmark kept", RefPolicy{}, nil, map[string]git.Hash{m: C}, lease(C),
			nil, []string{m + " kept"}, []string{m + " c"}},
		{"deleted bookmark pruned", RefPolicy{Prune: true}, nil, map[string]git.Hash{m: C}, lease(C),
			[]string{m + " c -"}, []string{m + " deleted"}, nil},
		{"prune only with the lease", RefPolicy{Prune: true}, nil, map[string]git.Hash{m: C}, lease(B),
			nil, []string{m + " kept"}, []string{m + " b"}},
		{"lease of a ref gone from the destination dropped", RefPolicy{Prune: true}, nil, nil, lease(B),
			nil, nil, nil},
		{"heptapod topic gone: deleted", RefPolicy{Layout: LayoutHeptapod}, nil,
			map[string]git.Hash{"refs/heads/topic/default/t": B, "refs/heads/wild/x": A, "refs/heads/branch/default": C},
			map[string]Lease{"refs/heads/topic/default/t": {Value: B}, "refs/heads/wild/x": {Value: A}, "refs/heads/branch/default": {Value: C}},
			[]string{"refs/heads/topic/default/t b -", "refs/heads/wild/x a -"},
			[]string{"refs/heads/branch/default kept", "refs/heads/topic/default/t deleted", "refs/heads/wild/x deleted"},
			[]string{"refs/heads/branch/default c"}},
		{"waiting keeps the destination", RefPolicy{Phases: PhasesPublic},
			[]wantRef{{RefStatus: RefStatus{Ref: m, Origin: OriginBookmark, Name: "m", State: RefWaiting}}}, map[string]git.Hash{m: A}, lease(A),
			nil, []string{m + " waiting-draft"}, []string{m + " a"}},
		{"a new ref blocked by a destination ref", RefPolicy{}, []wantRef{ok("refs/heads/a/b", C), ok("refs/heads/z", C)},
			map[string]git.Hash{"refs/heads/a": A, "refs/heads/z/y": A}, nil,
			nil, []string{"refs/heads/a/b not-exported-invalid-name", "refs/heads/z not-exported-invalid-name"}, nil},
		{"a ref being deleted does not block", RefPolicy{Layout: LayoutHeptapod}, []wantRef{ok("refs/heads/topic/t/x", C)},
			map[string]git.Hash{"refs/heads/topic/t": A}, map[string]Lease{"refs/heads/topic/t": {Value: A}},
			[]string{"refs/heads/topic/t a -", "refs/heads/topic/t/x - c"},
			[]string{"refs/heads/topic/t deleted", "refs/heads/topic/t/x created"}, []string{"refs/heads/topic/t/x c"}},
	}
	name := func(h git.Hash) string {
		if h.IsZero() {
			return "-"
		}
		return names[h]
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := plan(planInput{Want: tt.want, Have: tt.have, Leases: tt.leases, Policy: tt.policy, IsAncestor: anc, Proven: proof, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			var updates, states, leased []string
			for _, u := range p.Updates {
				updates = append(updates, fmt.Sprintf("%s %s %s", u.Ref, name(u.Old), name(u.New)))
			}
			for _, s := range p.Refs {
				states = append(states, fmt.Sprintf("%s %s", s.Ref, s.State))
				if s.State == RefRewritten && (s.At != now || s.RewrittenFrom != tt.have[s.Ref] || !strings.Contains(s.Describe(), "rewritten at 2026-12-02T05:00:00Z from ")) {
					t.Errorf("rewritten ref %+v: want the time and old value (%q)", s, s.Describe())
				}
			}
			for _, ref := range sortedKeys(p.Leases) {
				leased = append(leased, ref+" "+name(p.Leases[ref].Value))
			}
			if !slices.Equal(updates, tt.updates) {
				t.Errorf("updates = %q, want %q", updates, tt.updates)
			}
			if !slices.Equal(states, tt.states) {
				t.Errorf("states = %q, want %q", states, tt.states)
			}
			if !slices.Equal(leased, tt.leased) {
				t.Errorf("leases = %q, want %q", leased, tt.leased)
			}
			var refused []string
			for _, s := range p.Refs {
				if s.State.Refused() {
					refused = append(refused, s.Ref)
					if s.Detail == "" {
						t.Errorf("refused %s without a reason", s.Ref)
					}
				}
			}
			var got []string
			for _, r := range p.Refused {
				got = append(got, r.Ref)
			}
			if !slices.Equal(got, refused) {
				t.Errorf("Refused = %v, states say %v", got, refused)
			}
		})
	}
}

func TestRefStatusDescribe(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		s    RefStatus
		want string
	}{
		{RefStatus{State: RefUpToDate}, "up to date"},
		{RefStatus{State: RefUpToDate, At: at, RewrittenFrom: hh("a")}, "up to date; rewritten at 2026-12-02T05:00:00Z from " + hh("a").String()[:12]},
		{RefStatus{State: RefRewritten, At: at, RewrittenFrom: hh("a")}, "rewritten rewritten at 2026-12-02T05:00:00Z from " + hh("a").String()[:12]},
		{RefStatus{State: RefDiverged}, "refused: diverged"},
		{RefStatus{State: RefWaiting}, "waiting: draft"},
		{RefStatus{State: RefBadName}, "not exported: invalid name"},
		{RefStatus{State: RefSecret}, "not exported: secret"},
	} {
		if got := tt.s.Describe(); got != tt.want {
			t.Errorf("Describe(%s) = %q, want %q", tt.s.State, got, tt.want)
		}
	}
}

// TestDescends checks the walk that spares git merge-base: only the
// commits a conversion wrote are walked, so an answer it cannot give is
// false ("not known": localAncestry asks git), never a wrong true.
func TestDescends(t *testing.T) {
	t.Parallel()
	// Written by the conversion: b ← c ← e and d ← e (a merge); a, b's
	// parent, and x were there before.
	A, B, C, D, E, X := hh("a"), hh("b"), hh("c"), hh("d"), hh("e"), hh("x")
	parents := map[git.Hash][]git.Hash{B: {A}, C: {B}, D: {A}, E: {C, D}}
	for _, tc := range []struct {
		old, new git.Hash
		want     bool
	}{
		{A, B, true}, {B, C, true}, {A, E, true}, {D, E, true}, {C, C, true},
		{E, C, false}, {X, E, false}, {C, D, false},
		{hh("y"), A, false}, // a is not a written commit: git answers
	} {
		if got := descends(parents, tc.old, tc.new); got != tc.want {
			t.Errorf("descends(%s, %s) = %v, want %v", tc.old.String()[:7], tc.new.String()[:7], got, tc.want)
		}
	}
	if descends(nil, A, B) {
		t.Error("descends with no parents = true")
	}
}
