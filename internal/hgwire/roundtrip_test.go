package hgwire

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// commands lists the command of each of reqs.
func commands(reqs []argRequest) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.cmd
	}
	return out
}

// TestPullRoundtrips counts the HTTP requests of a pull of one new
// changeset (with bookmarks, drafts and obsolescence markers at the
// source): the native pull makes no more than hg pull does.
func TestPullRoundtrips(t *testing.T) {
	t.Parallel()
	src := smallSource(t)
	srv := hgtest.Serve(t, src, hgtest.WithEvolve(), hgtest.NonPublishing())
	c := recordArgs(t, srv)
	dir := t.TempDir()
	native, hgClone := filepath.Join(dir, "native"), filepath.Join(dir, "hg")
	pull(t, c.url, native, PullOptions{})
	hgtest.Run(t, "", "clone", "-q", "-U", "--config", "extensions.evolve=", "--", c.url, hgClone)
	c.take()

	pullOne(t, src, c.url, native)
	nat := commands(c.take())
	hgtest.Run(t, hgClone, "pull", "-q", "--config", "extensions.evolve=", "--", c.url)
	ref := commands(c.take())
	t.Logf("native: %d requests %v; hg pull: %d requests %v", len(nat), nat, len(ref), ref)
	if len(nat) > len(ref) {
		t.Fatalf("native pull made %d requests (%s), hg pull %d (%s)", len(nat), strings.Join(nat, " "), len(ref), strings.Join(ref, " "))
	}

	// Nothing new: no bundle of changesets is needed, but bookmarks and
	// phases still come.
	pull(t, c.url, native, PullOptions{})
	nat = commands(c.take())
	hgtest.Run(t, hgClone, "pull", "-q", "--config", "extensions.evolve=", "--", c.url)
	ref = commands(c.take())
	t.Logf("up to date: native %v; hg pull %v", nat, ref)
	if len(nat) > len(ref) {
		t.Fatalf("up-to-date native pull made %d requests (%s), hg pull %d (%s)", len(nat), strings.Join(nat, " "), len(ref), strings.Join(ref, " "))
	}
}

// TestKeptAliveAnswers checks that requests on a kept-alive connection to
// hg serve are not held by a delayed ACK (hg serve sends headers and body
// apart; without TCP_QUICKACK each answer after the first takes ≥ 40 ms).
func TestKeptAliveAnswers(t *testing.T) {
	if !quickAckSupported {
		t.Skip("no TCP_QUICKACK here")
	}
	t.Parallel()
	src := hgtest.NewRepo(t)
	src.Commit(hgtest.WithFile("a", "a\n"))
	srv := hgtest.Serve(t, src)
	ctx, peer := dialTest(t, srv.URL)
	// The fastest of 20: on a loaded machine one answer may be slow for
	// other reasons, but a delayed ACK holds every one.
	fastest := time.Hour
	for range 20 {
		start := time.Now()
		if _, err := peer.Batch(ctx, []BatchCall{{Cmd: "heads"}}); err != nil {
			t.Fatal(err)
		}
		fastest = min(fastest, time.Since(start))
	}
	t.Logf("fastest of 20 batch requests after the handshake: %v", fastest)
	if fastest >= 30*time.Millisecond {
		t.Fatalf("fastest request on a kept-alive connection took %v: held by a delayed ACK?", fastest)
	}
}
