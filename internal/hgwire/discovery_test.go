package hgwire

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/hg"
)

// knownServer answers known (and nothing else) from a set of nodes, as a
// server that stripped part of the cache's history would.
type knownServer struct {
	has   map[hg.Node]bool
	calls int
}

func (k *knownServer) call(ctx context.Context, cmd string, args map[string]string) ([]byte, error) {
	if cmd != "known" {
		return nil, fmt.Errorf("unexpected command %s", cmd)
	}
	k.calls++
	var b strings.Builder
	for _, f := range strings.Fields(args["nodes"]) {
		n, err := hg.ParseNode(f)
		if err != nil {
			return nil, err
		}
		if k.has[n] {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return []byte(b.String()), nil
}

func (k *knownServer) stream(context.Context, string, map[string]string) (io.ReadCloser, error) {
	return nil, fmt.Errorf("no streams")
}
func (k *knownServer) close() error   { return nil }
func (k *knownServer) argBudget() int { return 0 }

// TestDiscoverySampling: a cache of 3,000 linear changesets and a side
// branch, of which the source kept the first 1,234 and the branch: the
// common heads are found exactly, in a few round trips.
func TestDiscoverySampling(t *testing.T) {
	cache := t.TempDir()
	cl, err := hg.OpenRevlogAppender(cache, "00changelog.i")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	add := func(p1 hg.Node, i int) hg.Node {
		text := []byte(fmt.Sprintf("changeset %d", i))
		n := hg.HashRevision(p1, hg.NullNode, text)
		d := make([]byte, 12, 12+len(text))
		binary.BigEndian.PutUint32(d[8:], uint32(len(text)))
		if _, err := cl.AddDelta(n, p1, hg.NullNode, hg.NullNode, cl.Len(), append(d, text...)); err != nil {
			t.Fatal(err)
		}
		return n
	}
	srv := &knownServer{has: map[hg.Node]bool{}}
	var nodes []hg.Node
	prev := hg.NullNode
	for i := 0; i < 3000; i++ {
		prev = add(prev, i)
		nodes = append(nodes, prev)
		if i < 1234 {
			srv.has[prev] = true
		}
	}
	branch := add(nodes[100], 9999) // a second head, known
	srv.has[branch] = true
	peer := &Peer{t: srv, caps: Caps{"known": ""}}
	heads := localHeadNodes(cl)
	known, err := peer.Known(context.Background(), heads)
	if err != nil {
		t.Fatal(err)
	}
	stats := &Stats{}
	common, err := discover(context.Background(), peer, cl, heads, known, stats)
	if err != nil {
		t.Fatal(err)
	}
	want := map[hg.Node]bool{nodes[1233]: true, branch: true}
	if len(common) != 2 || !want[common[0]] || !want[common[1]] {
		t.Fatalf("common %v, want %s and %s", common, nodes[1233], branch)
	}
	if stats.Roundtrips > 15 {
		t.Fatalf("%d round trips", stats.Roundtrips)
	}
	t.Logf("%d sampling round trips", stats.Roundtrips)
}
