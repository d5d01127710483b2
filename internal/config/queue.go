package config

import "time"

// Queue configures the job queue's liveness and stop.
type Queue struct {
	// TakeoverAfter is how long a worker may go without a heartbeat before
	// its running syncs are taken over by another worker (default 20s). A
	// worker whose process exited (crash, kill -9) is found within about
	// two heartbeats.
	TakeoverAfter time.Duration `toml:"takeover_after"`
	// Heartbeat is how often each worker records that it is alive and
	// looks for jobs of dead workers (default 2s; at most a third of
	// takeover_after).
	Heartbeat time.Duration `toml:"heartbeat"`
	// ShutdownGrace is how long SIGTERM lets running syncs finish before
	// they are handed back to the queue (default 30s).
	ShutdownGrace time.Duration `toml:"shutdown_grace"`
	// RetryBase is the delay before the first retry of a sync that failed
	// with a transient fault, doubled at each attempt up to RetryMax
	// (defaults 15s and 1h).
	RetryBase time.Duration `toml:"retry_base"`
	RetryMax  time.Duration `toml:"retry_max"`
}

func (c *Config) validateQueue(bad func(string, ...any)) {
	q := c.Queue
	if q.TakeoverAfter < time.Second || q.TakeoverAfter > time.Hour {
		bad("queue.takeover_after: %s is out of range (1s to 1h)", q.TakeoverAfter)
	}
	if q.Heartbeat < 100*time.Millisecond || q.Heartbeat*3 > q.TakeoverAfter {
		bad("queue.heartbeat: %s must be at least 100ms and at most a third of queue.takeover_after (%s)", q.Heartbeat, q.TakeoverAfter)
	}
	if q.RetryBase < 100*time.Millisecond || q.RetryMax < q.RetryBase || q.RetryMax > 24*time.Hour {
		bad("queue.retry_base, queue.retry_max: %s and %s: want 100ms ≤ retry_base ≤ retry_max ≤ 24h", q.RetryBase, q.RetryMax)
	}
	if q.ShutdownGrace < 0 || q.ShutdownGrace > time.Hour {
		bad("queue.shutdown_grace: %s is out of range (0 to 1h)", q.ShutdownGrace)
	}
}
