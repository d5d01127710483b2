package queue

import "time"

// SetAfterFinishCheck makes every job call f after passing its final check,
// before it completes (to hold a job in that window).
func SetAfterFinishCheck(q *Queue, f func(jobID int64)) { q.afterFinishCheck = f }

// SetAfterJobRead makes Wait call f after each read of the job it waits for.
func SetAfterJobRead(q *Queue, f func(jobID int64)) { q.afterJobRead = f }

// Marked reports whether Work in q has ended job id for good.
func Marked(q *Queue, id int64) bool {
	_, ok := q.final.Load(id)
	return ok
}

// MarkedAt is when Work in q ended job id for good (zero if it has not).
func MarkedAt(q *Queue, id int64) time.Time {
	v, ok := q.final.Load(id)
	if !ok {
		return time.Time{}
	}
	return v.(finalMark).at
}
