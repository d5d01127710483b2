package queue

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := &backoff{base: 10 * time.Second, max: 5 * time.Minute}
	for _, tt := range []struct {
		attempt int
		want    time.Duration
	}{
		{1, 10 * time.Second},
		{2, 20 * time.Second},
		{3, 40 * time.Second},
		{5, 160 * time.Second},
		{6, 5 * time.Minute}, // 320s capped
		{50, 5 * time.Minute},
	} {
		for range 20 { // jitter: within ±10%
			got := time.Until(b.NextRetry(&rivertype.JobRow{Attempt: tt.attempt}))
			lo, hi := tt.want*9/10-time.Second, tt.want*11/10+time.Second
			if got < lo || got > hi {
				t.Fatalf("attempt %d: next retry in %v, want %v ±10%%", tt.attempt, got, tt.want)
			}
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in                 Config
		timeout, rescueMin time.Duration
	}{
		{Config{}, time.Hour, time.Hour + time.Minute},
		{Config{JobTimeout: -1}, time.Hour, time.Hour + time.Minute}, // never disabled: the rescuer would ignore the job
		{Config{JobTimeout: time.Minute, RescueAfter: 30 * time.Second}, time.Minute, time.Minute + time.Second},
		{Config{JobTimeout: time.Minute, RescueAfter: 2 * time.Minute}, time.Minute, 2 * time.Minute},
	} {
		c := tt.in
		c.setDefaults()
		if c.JobTimeout != tt.timeout || c.RescueAfter < tt.rescueMin || c.RescueAfter <= c.JobTimeout {
			t.Errorf("%+v: JobTimeout %v RescueAfter %v", tt.in, c.JobTimeout, c.RescueAfter)
		}
		if c.Retryable == nil || c.Logger == nil || c.ID == "" || c.Workers <= 0 {
			t.Errorf("%+v: defaults missing", tt.in)
		}
	}
}
