package hgwire

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// TestCorpusClone clones click and flask natively in two steps (from a
// server of the first half of the history, then from the full one) and
// through hg clone and hg pull in the same steps; hg verify passes on the native cache, and converting
// both gives the same map, byte for byte.
func TestCorpusClone(t *testing.T) {
	for _, name := range []string{"click.hg", "flask.hg"} {
		t.Run(strings.TrimSuffix(name, ".hg"), func(t *testing.T) {
			t.Parallel()
			src := hgtest.Unbundle(t, name)
			total, err := strconv.Atoi(strings.TrimSpace(src.Run("log", "-r", "tip", "-T", "{rev}")))
			if err != nil {
				t.Fatal(err)
			}
			half := filepath.Join(t.TempDir(), "half")
			hgtest.Run(t, "", "clone", "-q", "-U", "-r", strconv.Itoa(total/2), "--", src.Dir, half)
			halfSrv := hgtest.Serve(t, hgtest.Open(t, half))
			fullSrv := hgtest.Serve(t, src)

			native := filepath.Join(t.TempDir(), "native")
			_, s1 := pull(t, halfSrv.URL, native, PullOptions{})
			st, s2 := pull(t, fullSrv.URL, native, PullOptions{})
			if s1.Changesets+s2.Changesets != total+1 {
				t.Fatalf("pulled %d + %d changesets, want %d", s1.Changesets, s2.Changesets, total+1)
			}
			if len(st.Heads) == 0 {
				t.Fatal("no heads in the state")
			}
			ref := filepath.Join(t.TempDir(), "ref")
			// The hg transport, in the same steps (so the revision order,
			// and the map's line order, are the same).
			hgtest.Run(t, "", "clone", "-q", "-U", "--", halfSrv.URL, ref)
			hgtest.Run(t, ref, "pull", "-q", "--", fullSrv.URL)
			verify(t, native)

			// Generous: under -race on a loaded machine the two
			// conversions take minutes.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			var maps [2][]byte
			for i, dir := range []string{native, ref} {
				if _, err := (&convert.Native{}).Convert(ctx, dir, convert.Options{}); err != nil {
					t.Fatalf("convert %s: %v", dir, err)
				}
				if maps[i], err = os.ReadFile(convert.MapPath(dir)); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(maps[0], maps[1]) {
				t.Fatalf("maps differ: native %d bytes, hg clone %d bytes", len(maps[0]), len(maps[1]))
			}
			if n := bytes.Count(maps[0], []byte("\n")); n != total+1 {
				t.Fatalf("map has %d lines, want %d", n, total+1)
			}
		})
	}
}
