package convert_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// writeTinyHistory appends n linear changesets touching no file to the
// empty repository at dir, writing the changelog directly (hg
// debugbuilddag takes minutes for as many on a loaded machine).
func writeTinyHistory(t *testing.T, dir string, n int) {
	t.Helper()
	store := filepath.Join(dir, ".hg", "store")
	a, err := hg.OpenRevlogAppender(store, "00changelog.i")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p1 := hg.NullNode
	for i := 0; i < n; i++ {
		text := fmt.Sprintf("%s\nTest User <test@example.com>\n%d 0\n\nchange %d", hg.NullNode, 1700000000+i, i)
		// A delta against the empty text: one hunk replacing [0, 0).
		delta := make([]byte, 12, 12+len(text))
		binary.BigEndian.PutUint32(delta[8:], uint32(len(text)))
		delta = append(delta, text...)
		node := hg.HashRevision(p1, hg.NullNode, []byte(text))
		if _, err := a.AddDelta(node, p1, hg.NullNode, hg.NullNode, i, delta); err != nil {
			t.Fatal(err)
		}
		p1 = node
	}
	if err := a.CommitAlone(); err != nil {
		t.Fatal(err)
	}
}

// TestMemoryBounded converts 50,000 tiny changesets with a small memory
// setting and checks the peak of live heap objects, sampled from
// runtime/metrics during the conversion.
func TestMemoryBounded(t *testing.T) {
	hgtest.RequireHgGit(t)
	const n = 50000
	r := hgtest.NewRepo(t)
	writeTinyHistory(t, r.Dir, n)
	if got := r.Run("log", "-r", "tip", "-T", "{rev}"); got != fmt.Sprint(n-1) {
		t.Fatalf("hg sees tip %q, want %d", got, n-1)
	}
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				v := read()
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := (&convert.Native{Memory: 16 << 20}).Convert(ctx, r.Dir, convert.Options{})
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Converted != n {
		t.Fatalf("converted %d, want %d", res.Converted, n)
	}
	used := int64(peak) - int64(base)
	t.Logf("%d changesets: peak live heap %d MiB above the %d MiB before", n, used>>20, base>>20)
	// The caches get 16 MiB; the map, the branch of each changeset and one
	// checkpoint's pack index grow with the changesets converted, by a few
	// hundred bytes each.
	if limit := int64(64 << 20); used > limit {
		t.Errorf("peak live heap %d MiB above the start, want at most %d MiB", used>>20, limit>>20)
	}
}
