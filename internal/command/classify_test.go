package command

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	patterns := []struct {
		Fragment string
		Kind     string
	}{
		{"permission denied", "auth"},
		{"denied", "other-denied"},
		{"connection refused", "network"},
	}
	exit := errors.New("exit status 1")
	for _, tt := range []struct {
		err    error
		stderr string
		want   string
	}{
		{exit, "fatal: Permission Denied (publickey)", "auth"}, // case ignored, first match wins
		{exit, "access denied", "other-denied"},
		{exit, "ssh: connect: Connection refused", "network"},
		{exit, "something else", "none"},
		{fmt.Errorf("run: %w", context.DeadlineExceeded), "permission denied", "timeout"},
	} {
		if got := Classify(tt.err, tt.stderr, patterns, "timeout", "none"); got != tt.want {
			t.Errorf("Classify(%v, %q) = %q, want %q", tt.err, tt.stderr, got, tt.want)
		}
	}
}
