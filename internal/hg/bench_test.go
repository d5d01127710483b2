package hg

import "testing"

// BenchmarkReadHistory opens the click corpus and reads every changeset
// and its manifest, as a whole-history conversion does.
func BenchmarkReadHistory(b *testing.B) {
	entries := 0
	benchClick(b, func(r *Repo, c *Changeset, m []ManifestEntry) {
		entries += len(m)
	}, func(r *Repo) {
		b.ReportMetric(float64(r.Len()), "changesets/op")
	})
}

// BenchmarkReadFiles reads every file revision changed by every changeset
// of the click corpus.
func BenchmarkReadFiles(b *testing.B) {
	benchClick(b, func(r *Repo, c *Changeset, m []ManifestEntry) {
		for _, f := range c.Files {
			i := searchManifest(m, f)
			if i < 0 {
				continue // removed
			}
			if _, _, err := r.File(f, m[i].Node); err != nil {
				b.Fatal(err)
			}
		}
	}, nil)
}

// benchClick opens the click corpus afresh per iteration and calls each
// with every changeset and its manifest, then done (when set) with the
// repository before it is closed.
func benchClick(b *testing.B, each func(r *Repo, c *Changeset, m []ManifestEntry), done func(r *Repo)) {
	requireHg(b)
	dir := unbundle(b, "click.hg")
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		for rev := 0; rev < r.Len(); rev++ {
			c, m := changesetAt(b, r, rev)
			each(r, c, m)
		}
		if done != nil {
			done(r)
		}
		r.Close()
	}
}

func searchManifest(m []ManifestEntry, path string) int {
	lo, hi := 0, len(m)
	for lo < hi {
		h := (lo + hi) / 2
		if m[h].Path < path {
			lo = h + 1
		} else {
			hi = h
		}
	}
	if lo < len(m) && m[lo].Path == path {
		return lo
	}
	return -1
}

// BenchmarkReadHistoryHgReference is the reference for BenchmarkReadHistory:
// hg itself listing every changeset with its manifest node and files
// (it does not even read the manifests).
func BenchmarkReadHistoryHgReference(b *testing.B) {
	requireHg(b)
	dir := unbundle(b, "click.hg")
	for b.Loop() {
		out := runHg(b, dir, "log", "-r", "0:", "-T", "{node} {manifest} {join(files, ' ')}\n")
		if len(out) == 0 {
			b.Fatal("no output")
		}
	}
}
