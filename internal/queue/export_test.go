package queue

// SetAfterFinishCheck makes every job call f after passing its final check,
// before it completes (to hold a job in that window).
func SetAfterFinishCheck(q *Queue, f func(jobID int64)) { q.afterFinishCheck = f }
