package mirror

import (
	"slices"
	"testing"
)

// checkSteps fails t unless res has exactly the steps names, in order,
// each of nonzero time.
func checkSteps(t *testing.T, res *Result, names ...string) {
	t.Helper()
	var got []string
	for _, s := range res.Steps {
		got = append(got, s.Name)
		if s.Duration <= 0 {
			t.Errorf("step %s took %v", s.Name, s.Duration)
		}
	}
	if !slices.Equal(got, names) {
		t.Errorf("steps %v, want %v", res.Steps, names)
	}
}
