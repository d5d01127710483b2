package queue

import (
	"context"
	"testing"
)

func TestFileLocker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	a, b := &fileLocker{dir: dir}, &fileLocker{dir: dir} // two processes' lockers
	unlock, ok, err := a.tryLock(ctx, "m/with odd:name")
	if err != nil || !ok {
		t.Fatalf("first lock: %v %v", ok, err)
	}
	for _, l := range []*fileLocker{a, b} {
		if _, ok, err := l.tryLock(ctx, "m/with odd:name"); err != nil || ok {
			t.Fatalf("second lock of a held mirror: ok=%v err=%v", ok, err)
		}
	}
	other, ok, err := b.tryLock(ctx, "other")
	if err != nil || !ok {
		t.Fatalf("lock of another mirror: %v %v", ok, err)
	}
	other()
	unlock()
	again, ok, err := b.tryLock(ctx, "m/with odd:name")
	if err != nil || !ok {
		t.Fatalf("lock after unlock: %v %v", ok, err)
	}
	again()
}
