package hg

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fullDelta is a delta replacing all of a base of baseLen bytes by text.
func fullDelta(baseLen int, text []byte) []byte {
	d := make([]byte, 12, 12+len(text))
	d[4], d[5], d[6], d[7] = byte(baseLen>>24), byte(baseLen>>16), byte(baseLen>>8), byte(baseLen)
	n := len(text)
	d[8], d[9], d[10], d[11] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return append(d, text...)
}

// commitAndOpen commits a's revisions of data/f.i in store, closes it
// and opens the revlog with the reader.
func commitAndOpen(t *testing.T, a *RevlogAppender, store string) *Revlog {
	t.Helper()
	if err := a.CommitAlone(); err != nil {
		t.Fatal(err)
	}
	a.Close()
	rl, err := OpenRevlog(filepath.Join(store, "data", "f.i"))
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

// TestRevlogAppender writes a chain of revisions in several commits, past
// the inline limit, and reads every one back with the reader.
func TestRevlogAppender(t *testing.T) {
	store := t.TempDir()
	var texts [][]byte
	var nodes []Node
	for round := 0; round < 3; round++ {
		a, err := OpenRevlogAppender(store, "data/f.i")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 40; i++ {
			rev := len(texts)
			text := []byte(fmt.Sprintf("revision %d\n%s", rev, bytes.Repeat([]byte{byte('a' + rev%26)}, 2000+rev*10)))
			p1, base, baseLen := NullNode, NullNode, 0
			if rev > 0 {
				p1, base, baseLen = nodes[rev-1], nodes[rev-1], len(texts[rev-1])
			}
			n := HashRevision(p1, NullNode, text)
			added, err := a.AddDelta(n, p1, NullNode, base, rev, fullDelta(baseLen, text))
			if err != nil || !added {
				t.Fatalf("rev %d: added %v, %v", rev, added, err)
			}
			texts, nodes = append(texts, text), append(nodes, n)
		}
		// A wrong node is refused.
		bad := Node{1}
		if _, err := a.AddDelta(bad, nodes[0], NullNode, NullNode, 0, fullDelta(0, []byte("x"))); !errors.As(err, new(*HashMismatchError)) {
			t.Fatalf("bad node: %v", err)
		}
		rl := commitAndOpen(t, a, store)
		if rl.Len() != len(texts) {
			t.Fatalf("round %d: %d revisions, want %d", round, rl.Len(), len(texts))
		}
		for r := range texts {
			if err := rl.Verify(r); err != nil {
				t.Fatal(err)
			}
			got, _ := rl.Revision(r)
			if !bytes.Equal(got, texts[r]) {
				t.Fatalf("rev %d differs", r)
			}
		}
		inline := rl.Inline()
		rl.Close()
		if _, err := os.Stat(filepath.Join(store, "data", "f.d")); (err == nil) == inline {
			t.Fatalf("round %d: inline %v but .d present: %v", round, inline, err == nil)
		}
	}
}

// TestJournalRollback appends to files and rolls back, in process and
// as hg recover would after a crash.
func TestJournalRollback(t *testing.T) {
	store := t.TempDir()
	if err := os.WriteFile(filepath.Join(store, "a"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := OpenJournal(store)
	if err != nil {
		t.Fatal(err)
	}
	j.Append("a", []byte(" more"))
	j.Append("sub/new", []byte("new"))
	j.Replace("r", []byte("replaced"))
	if err := j.Rollback(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(store, "a")); string(b) != "keep" {
		t.Fatalf("a = %q", b)
	}
	for _, f := range []string{"sub/new", "r", JournalName} {
		if _, err := os.Stat(filepath.Join(store, f)); err == nil {
			t.Fatalf("%s survived the rollback", f)
		}
	}
	// A crash: the journal stays, the next writer recovers.
	j, _ = OpenJournal(store)
	j.Append("a", []byte(" crash"))
	j.Append("b", []byte("crash"))
	j.f.Close()
	if err := RecoverJournal(store); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(store, "a")); string(b) != "keep" {
		t.Fatalf("after recover a = %q", b)
	}
	if _, err := os.Stat(filepath.Join(store, "b")); err == nil {
		t.Fatal("b survived recover")
	}
}

func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := AcquireLock(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLock(p, 100e6); err == nil {
		t.Fatal("second lock taken")
	}
	l.Release()
	// A lock of a dead process on this host is broken.
	os.Symlink(lockPrefix()+":999999999", p)
	l, err = AcquireLock(p, 0)
	if err != nil {
		t.Fatalf("stale lock: %v", err)
	}
	l.Release()
}

// TestRevlogAppenderCompression: a chunk is compressed from minCompressed
// bytes (zstd with the requirement, zlib without), stored raw below, and
// read back either way.
func TestRevlogAppenderCompression(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		zstd bool
		big  byte // first byte of a compressed chunk
	}{{"zstd", true, '('}, {"zlib", false, 'x'}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := t.TempDir()
			a, err := OpenRevlogAppender(store, "data/f.i")
			if err != nil {
				t.Fatal(err)
			}
			if tc.zstd {
				a.UseZstd()
			}
			var texts [][]byte
			for _, size := range []int{minCompressed / 2, minCompressed - 1, minCompressed, 4 * minCompressed} {
				// A full text (no base): the chunk is the text itself.
				text := bytes.Repeat([]byte("abcdefgh"), size/8+1)[:size]
				n := HashRevision(NullNode, NullNode, text)
				if _, err := a.AddDelta(n, NullNode, NullNode, NullNode, len(texts), fullDelta(0, text)); err != nil {
					t.Fatal(err)
				}
				p := a.pend[len(a.pend)-1]
				want := byte('u')
				if size >= minCompressed {
					want = tc.big
				}
				if got := a.buf[p.off]; got != want {
					t.Errorf("text of %d bytes stored with header %q, want %q", size, got, want)
				}
				texts = append(texts, text)
			}
			rl := commitAndOpen(t, a, store)
			defer rl.Close()
			for r, want := range texts {
				if got, err := rl.Revision(r); err != nil || !bytes.Equal(got, want) {
					t.Errorf("rev %d: %d bytes, %v; want %d bytes", r, len(got), err, len(want))
				}
			}
		})
	}
}
