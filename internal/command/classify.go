package command

import (
	"context"
	"errors"
	"strings"
)

// Classify decides the kind of a failed run: timeout when the run's error
// is the deadline passing, else the kind of the first of patterns (a table
// of lower-cased fragments of the program's messages, as the hg and git
// runners keep) whose fragment stderr contains, ignoring case, else other.
func Classify[K any](runErr error, stderr string, patterns []struct {
	Fragment string
	Kind     K
}, timeout, other K) K {
	if errors.Is(runErr, context.DeadlineExceeded) {
		return timeout
	}
	low := strings.ToLower(stderr)
	for _, p := range patterns {
		if strings.Contains(low, p.Fragment) {
			return p.Kind
		}
	}
	return other
}
