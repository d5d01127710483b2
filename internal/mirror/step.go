package mirror

import (
	"encoding/json"
	"time"
)

// Step is the wall time of one step of a sync.
type Step struct {
	Name     string        `json:"name"` // StepPull, StepConvert, StepPush
	Duration time.Duration `json:"-"`
}

// MarshalJSON writes {"name": NAME, "seconds": SECONDS}.
func (s Step) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name    string  `json:"name"`
		Seconds float64 `json:"seconds"`
	}{s.Name, s.Duration.Seconds()})
}

// Steps of a sync, in the order they run (git mirrors have no convert).
const (
	StepPull    = "pull"    // the source into the cache: hg pull (or clone), git fetch
	StepConvert = "convert" // new changesets into Git objects (hg mirrors)
	StepPush    = "push"    // refs planned against the destination and pushed
)

// stepClock times the steps of one sync, each from the end of the one
// before.
type stepClock struct {
	at    time.Time
	steps []Step
}

func newStepClock() *stepClock { return &stepClock{at: time.Now()} }

// done records the time since the previous step ended as step name.
func (c *stepClock) done(name string) {
	now := time.Now()
	c.steps = append(c.steps, Step{Name: name, Duration: now.Sub(c.at)})
	c.at = now
}

// record gives res the steps timed so far (res may be nil: the sync
// failed before it had a result).
func (c *stepClock) record(res *Result) {
	if res != nil {
		res.Steps = append([]Step(nil), c.steps...)
	}
}
