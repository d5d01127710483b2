package mirror

import (
	"errors"
	"reflect"
	"testing"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	// History: a ← b ← c; x unrelated; "gone" is not in the local repository.
	anc := func(old, new string) (bool, bool, error) {
		order := map[string]int{"a": 1, "b": 2, "c": 3}
		if old == "gone" {
			return false, false, nil
		}
		o, ok1 := order[old]
		n, ok2 := order[new]
		return ok1 && ok2 && o <= n, true, nil
	}
	tests := []struct {
		name     string
		want     map[string]string
		have     map[string]string
		force    bool
		updates  []planned
		diverged []string
	}{
		{"nothing changed", map[string]string{"refs/heads/m": "c"}, map[string]string{"refs/heads/m": "c"}, false, nil, nil},
		{"create", map[string]string{"refs/heads/m": "c"}, nil, false,
			[]planned{{RefUpdate: RefUpdate{Ref: "refs/heads/m", New: "c"}}}, nil},
		{"fast-forward", map[string]string{"refs/heads/m": "c", "refs/heads/o": "b"}, map[string]string{"refs/heads/m": "a", "refs/heads/o": "b", "refs/heads/extra": "x"}, false,
			[]planned{{RefUpdate: RefUpdate{Ref: "refs/heads/m", Old: "a", New: "c"}}}, nil},
		{"diverged", map[string]string{"refs/heads/m": "c", "refs/heads/n": "a"}, map[string]string{"refs/heads/m": "x", "refs/heads/n": "gone"}, false,
			nil, []string{"refs/heads/m", "refs/heads/n"}},
		{"rewind is divergence", map[string]string{"refs/heads/m": "a"}, map[string]string{"refs/heads/m": "c"}, false, nil, []string{"refs/heads/m"}},
		{"moved tag", map[string]string{"refs/tags/v1": "c"}, map[string]string{"refs/tags/v1": "a"}, false, nil, []string{"refs/tags/v1"}},
		{"forced", map[string]string{"refs/heads/m": "c", "refs/tags/v1": "c", "refs/heads/f": "c"}, map[string]string{"refs/heads/m": "x", "refs/tags/v1": "a", "refs/heads/f": "b"}, true,
			[]planned{
				{RefUpdate: RefUpdate{Ref: "refs/heads/f", Old: "b", New: "c"}},
				{RefUpdate: RefUpdate{Ref: "refs/heads/m", Old: "x", New: "c"}, force: true},
				{RefUpdate: RefUpdate{Ref: "refs/tags/v1", Old: "a", New: "c"}, force: true},
			}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := plan(tt.want, tt.have, tt.force, anc)
			if tt.diverged != nil {
				var d *DivergedError
				if !errors.As(err, &d) {
					t.Fatalf("plan = %v, %v; want divergence", got, err)
				}
				var refs []string
				for _, r := range d.Refs {
					refs = append(refs, r.Ref)
				}
				if !reflect.DeepEqual(refs, tt.diverged) {
					t.Errorf("diverged refs = %v, want %v", refs, tt.diverged)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.updates) {
				t.Errorf("plan = %+v, want %+v", got, tt.updates)
			}
		})
	}
}
