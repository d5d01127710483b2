package hgwire

import (
	"context"
	"os"
	"testing"
	"time"
)

// openFile opens path for reading until the test ends.
func openFile(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// dialTest dials url with default options and returns the peer, closed
// when the test ends, and a context that ends a minute from now.
func dialTest(t *testing.T, url string) (context.Context, *Peer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	peer, err := Dial(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return ctx, peer
}
