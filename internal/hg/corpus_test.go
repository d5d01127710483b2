package hg

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

func TestClickCorpus(t *testing.T) {
	requireHg(t)
	dir := unbundle(t, "click.hg")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var log []struct {
		Rev     int      `json:"rev"`
		Node    string   `json:"node"`
		User    string   `json:"user"`
		Date    [2]int64 `json:"date"`
		Desc    string   `json:"desc"`
		Branch  string   `json:"branch"`
		Parents []string `json:"parents"`
	}
	if err := json.Unmarshal(runHg(t, dir, "log", "-r", "0:", "-T", "json"), &log); err != nil {
		t.Fatal(err)
	}
	if r.Len() != len(log) {
		t.Fatalf("Len = %d, hg log has %d", r.Len(), len(log))
	}
	for rev := 0; rev < r.Len(); rev++ {
		c, err := r.Changeset(rev)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.VerifyChangeset(rev); err != nil {
			t.Fatal(err)
		}
		want := log[rev]
		if c.Node.String() != want.Node || c.User != want.User || c.Time != want.Date[0] || int64(c.TZ) != want.Date[1] || c.Description != want.Desc || c.Branch() != want.Branch {
			t.Fatalf("rev %d: got %+v, hg log %+v", rev, c, want)
		}
		if _, err := r.Manifest(c.Manifest); err != nil {
			t.Fatal(err)
		}
	}
	verifyForward(t, r.ManifestLog())
	checkTags(t, r, dir)
	checkBookmarks(t, r, dir)
	// hg tags lists 69 with tip. The bundle carries no bookmarks part, so
	// unbundle restores none (checkBookmarks compared with hg anyway).
	if tags, _ := r.Tags(); len(tags) != 68 {
		t.Errorf("click has %d tags besides tip, want 68", len(tags))
	}
	if r.Len() != 3333 {
		t.Errorf("click has %d changesets, want 3333", r.Len())
	}
}

// TestCorpusOtherFormats rewrites the click history with zlib and without
// generaldelta (long linear delta chains in non-inline revlogs) and with
// flask's history (subrepositories), and verifies every revision of every
// revlog natively.
func TestCorpusOtherFormats(t *testing.T) {
	requireHg(t)
	t.Parallel()
	cases := []struct {
		name, bundle string
		config       []string
	}{
		{"click-zlib-no-generaldelta", "click.hg", []string{"format.revlog-compression=zlib", "format.usegeneraldelta=false", "format.sparse-revlog=false"}},
		{"flask", "flask.hg", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := unbundle(t, tc.bundle)
			if tc.config != nil {
				clone := filepath.Join(t.TempDir(), "clone")
				args := []string{"clone", "-U", "--pull"}
				for _, c := range tc.config {
					args = append(args, "--config", c)
				}
				runHg(t, "", append(args, "--", dir, clone)...)
				dir = clone
			}
			r, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if tc.config != nil && (r.Changelog().GeneralDelta() || r.Changelog().Inline()) {
				t.Fatalf("changelog generaldelta=%v inline=%v, want a non-inline revlog without generaldelta", r.Changelog().GeneralDelta(), r.Changelog().Inline())
			}
			verifyForward(t, r.Changelog())
			verifyForward(t, r.ManifestLog())
			paths := map[string]bool{}
			for rev := 0; rev < r.Len(); rev++ {
				c, err := r.Changeset(rev)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range c.Files {
					paths[f] = true
				}
			}
			revs := 0
			for p := range paths {
				fl, err := r.Filelog(p)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < fl.Len(); i++ {
					if err := fl.Verify(i); err != nil {
						t.Fatal(err)
					}
				}
				revs += fl.Len()
			}
			t.Logf("%s: %d changesets, %d filelogs, %d file revisions verified", tc.name, r.Len(), len(paths), revs)
			checkTags(t, r, dir)
		})
	}
}
