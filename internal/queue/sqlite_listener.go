package queue

import (
	"context"
	"database/sql"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// wakingDriver is River's SQLite driver whose listener is woken by inserts
// made in this process (see wakingListener).
type wakingDriver struct {
	*riversqlite.Driver
	inserted *signal
}

func newWakingDriver(db *sql.DB, inserted *signal) riverdriver.Driver[*sql.Tx] {
	return wakingDriver{Driver: riversqlite.New(db), inserted: inserted}
}

// GetListener implements riverdriver.Driver.
func (d wakingDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &wakingListener{Listener: d.Driver.GetListener(params), inserted: d.inserted}
}

// wakingListener is River's SQLite listener, which reads the notification
// table every 50 ms (SQLite has no LISTEN), polling at once when this
// process has inserted a job: a job waited 2–51 ms between its insert and
// its start, on the path of every webhook. An insert's notification row is
// committed when Insert returns, which is when the signal fires, so the
// poll it starts finds the row. Inserts by other processes still wait for
// the next regular poll.
type wakingListener struct {
	riverdriver.Listener
	inserted *signal
}

// WaitForNotification implements riverdriver.Listener.
func (l *wakingListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	for {
		woken := l.inserted.wait()
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-woken:
				cancel()
			case <-wctx.Done():
			}
		}()
		n, err := l.Listener.WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() == nil && wctx.Err() != nil {
			continue // woken by an insert: poll again now
		}
		return n, err
	}
}
