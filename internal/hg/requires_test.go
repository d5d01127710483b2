package hg

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenRefusesUnsupportedRequirements(t *testing.T) {
	t.Parallel()
	base := initRepo(t, "base")
	storeReq, err := os.ReadFile(filepath.Join(base, ".hg", "store", "requires"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, add, want string
	}{
		{"treemanifest in store", "store/requires", "treemanifest", "treemanifest"},
		{"revlog-v2", "store/requires", "exp-revlogv2.2", "exp-revlogv2.2"},
		{"changelog-v2", "store/requires", "exp-changelog-v2", "exp-changelog-v2"},
		{"narrow", "requires", "narrowhg-experimental", "narrowhg-experimental"},
		{"lfs", "store/requires", "lfs", "lfs"},
		{"largefiles", "requires", "largefiles", "largefiles"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "repo")
			if err := os.MkdirAll(filepath.Join(dir, ".hg", "store"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, ".hg", "requires"), "share-safe\n")
			writeFile(t, filepath.Join(dir, ".hg", "store", "requires"), string(storeReq))
			p := filepath.Join(dir, ".hg", filepath.FromSlash(tc.file))
			old, _ := os.ReadFile(p)
			writeFile(t, p, string(old)+tc.add+"\n")
			_, err := Open(dir)
			var ue *UnsupportedError
			if !errors.As(err, &ue) || ue.Requirement != tc.want {
				t.Fatalf("Open: err = %v, want *UnsupportedError for %q", err, tc.want)
			}
		})
	}

	// A real treemanifest repository made by hg.
	tree := filepath.Join(t.TempDir(), "tree")
	runHg(t, "", "init", "--config", "experimental.treemanifest=true", "--", tree)
	_, err = Open(tree)
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Requirement != "treemanifest" {
		t.Fatalf("Open(treemanifest repo) = %v, want *UnsupportedError{treemanifest}", err)
	}

	// The base repository itself opens and is empty.
	r, err := Open(base)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Len() != 0 || r.HasObsstore() {
		t.Fatalf("empty repo: Len=%d HasObsstore=%v", r.Len(), r.HasObsstore())
	}
	if tags, err := r.Tags(); err != nil || len(tags) != 0 {
		t.Fatalf("empty repo Tags() = %v, %v", tags, err)
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Fatal("Open of a directory without .hg succeeded")
	}
}

func TestOpenShare(t *testing.T) {
	t.Parallel()
	src, b := initBuilder(t, "src")
	b.Write("a", "1\n")
	b.commit("first")
	b.Run("bookmark", "mark")
	for _, rel := range []bool{false, true} {
		dest := filepath.Join(t.TempDir(), "share")
		args := []string{"--config", "extensions.share=", "share", "-U"}
		if rel {
			args = append(args, "--relative", "--bookmarks")
		}
		runHg(t, "", append(args, "--", src, dest)...)
		r, err := Open(dest)
		if err != nil {
			t.Fatalf("Open(share, relative=%v): %v", rel, err)
		}
		c, err := r.Changeset(0)
		if err != nil || r.Len() != 1 || c.Description != "first" {
			t.Fatalf("share (relative=%v): Len=%d changeset %+v, %v", rel, r.Len(), c, err)
		}
		if data, _, err := r.File("a", mustManifest(t, r, c.Manifest)[0].Node); err != nil || string(data) != "1\n" {
			t.Fatalf("share: File = %q, %v", data, err)
		}
		// hg honours shared bookmarks only with the share extension.
		writeFile(t, filepath.Join(dest, ".hg", "hgrc"), "[extensions]\nshare =\n")
		checkBookmarks(t, r, dest)
		r.Close()
	}
}

func mustManifest(t *testing.T, r *Repo, n Node) []ManifestEntry {
	t.Helper()
	m, err := r.Manifest(n)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
