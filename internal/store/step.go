package store

import (
	"encoding/json"
	"time"
)

// Step is the wall time of one step of a run ("pull", "convert", "push").
type Step struct {
	Name     string
	Duration time.Duration
}

// stepJSON is a Step as sync_run.steps keeps it: microseconds, as every
// time in the store.
type stepJSON struct {
	Name string `json:"name"`
	US   int64  `json:"us"`
}

func encodeSteps(steps []Step) (string, error) {
	out := make([]stepJSON, len(steps))
	for i, s := range steps {
		out[i] = stepJSON{Name: s.Name, US: s.Duration.Microseconds()}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeSteps(s string) ([]Step, error) {
	var in []stepJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]Step, len(in))
	for i, st := range in {
		out[i] = Step{Name: st.Name, Duration: time.Duration(st.US) * time.Microsecond}
	}
	return out, nil
}
