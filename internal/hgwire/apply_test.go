package hgwire

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// applyBundleFile writes a bundle file into a new cache, as a pull would.
func applyBundleFile(t testing.TB, bundle, cache string) *cacheWriter {
	t.Helper()
	if err := initCache(cache); err != nil {
		t.Fatal(err)
	}
	w, err := openCacheWriter(cache)
	if err != nil {
		t.Fatal(err)
	}
	res := &pullResult{}
	start := time.Now()
	if err := readPullBundle(openFile(t, bundle), w, res, 0); err != nil {
		t.Fatal(err)
	}
	read := time.Since(start)
	if err := w.checkManifests(); err != nil {
		t.Fatal(err)
	}
	if err := w.checkFiles(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d file references checked", len(w.fileRefs))
	if err := w.commit(res, nil, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d changesets, read and checked in %v, written in %v", filepath.Base(bundle), len(w.newCsets), read, time.Since(start)-read)
	return w
}

// TestApplyCorpusBundle applies the click corpus bundle (HG20, zstd) to an
// empty cache directly, without a server; hg verify passes.
func TestApplyCorpusBundle(t *testing.T) {
	bundle := os.Getenv("HGWIRE_BUNDLE")
	if bundle == "" {
		bundle = hgtest.Bundle(t, "click.hg")
	}
	cache := filepath.Join(t.TempDir(), "cache")
	w := applyBundleFile(t, bundle, cache)
	w.close()
	if os.Getenv("HGWIRE_BUNDLE") == "" {
		verify(t, cache)
	}
}
