package hgwire

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// counter is a reverse proxy in front of a real hg serve that records the
// command of every request.
type counter struct {
	mu   sync.Mutex
	cmds []string
	URL  string
}

func newCounter(t testing.TB, target string) *counter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.cmds = append(c.cmds, r.URL.Query().Get("cmd"))
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL + "/"
	return c
}

// take returns the commands recorded since the last take.
func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.cmds
	c.cmds = nil
	return out
}

// TestPullRoundtrips counts the HTTP requests of a pull of one new
// changeset (with bookmarks, drafts and obsolescence markers at the
// source): the native pull makes no more than hg pull does.
func TestPullRoundtrips(t *testing.T) {
	t.Parallel()
	src := smallSource(t)
	srv := hgtest.Serve(t, src, hgtest.WithEvolve(), hgtest.NonPublishing())
	c := newCounter(t, srv.URL)
	dir := t.TempDir()
	native, hgClone := filepath.Join(dir, "native"), filepath.Join(dir, "hg")
	pull(t, c.URL, native, PullOptions{})
	hgtest.Run(t, "", "clone", "-q", "-U", "--config", "extensions.evolve=", "--", c.URL, hgClone)
	c.take()

	pullOne(t, src, c.URL, native)
	nat := c.take()
	hgtest.Run(t, hgClone, "pull", "-q", "--config", "extensions.evolve=", "--", c.URL)
	ref := c.take()
	t.Logf("native: %d requests %v; hg pull: %d requests %v", len(nat), nat, len(ref), ref)
	if len(nat) > len(ref) {
		t.Fatalf("native pull made %d requests (%s), hg pull %d (%s)", len(nat), strings.Join(nat, " "), len(ref), strings.Join(ref, " "))
	}

	// Nothing new: no bundle of changesets is needed, but bookmarks and
	// phases still come.
	pull(t, c.URL, native, PullOptions{})
	nat = c.take()
	hgtest.Run(t, hgClone, "pull", "-q", "--config", "extensions.evolve=", "--", c.URL)
	ref = c.take()
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
	src.Write("a", "a\n")
	src.Commit()
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
