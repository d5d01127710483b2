package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
)

// pollingListener stands for River's SQLite listener: a wait ends at the
// next poll (never, in this test, unless a notification is pending) or
// when its context ends.
type pollingListener struct {
	riverdriver.Listener
	pending chan *riverdriver.Notification
	calls   chan struct{}
}

func (l *pollingListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	l.calls <- struct{}{}
	select {
	case n := <-l.pending:
		return n, nil
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestWakingListener checks that an insert in this process makes the
// listener poll again at once, and that its own context still ends it.
func TestWakingListener(t *testing.T) {
	t.Parallel()
	inner := &pollingListener{pending: make(chan *riverdriver.Notification, 1), calls: make(chan struct{}, 100)}
	var inserted signal
	l := &wakingListener{Listener: inner, inserted: &inserted}

	got := make(chan *riverdriver.Notification, 1)
	go func() {
		n, err := l.WaitForNotification(context.Background())
		if err != nil {
			t.Errorf("WaitForNotification: %v", err)
		}
		got <- n
	}()
	<-inner.calls // waiting, with nothing pending: only a new poll finds it
	want := &riverdriver.Notification{Topic: "insert", Payload: "{}"}
	inner.pending <- want
	deadline := time.After(10 * time.Second)
	for {
		inserted.fire() // may fire before the wait began: fire until it is seen
		select {
		case n := <-got:
			if n != want {
				t.Fatalf("WaitForNotification = %v, want %v", n, want)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := l.WaitForNotification(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("WaitForNotification with its context ended = %v, want context.Canceled", err)
			}
			return
		case <-deadline:
			t.Fatal("an insert did not wake the listener")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
