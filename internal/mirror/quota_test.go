package mirror

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// quotaCaches makes one cache directory per name under a new cache dir, each
// holding size bytes in nested files, last used in the order given (the
// first is the oldest).
func quotaCaches(t *testing.T, size int, names ...string) string {
	t.Helper()
	root := t.TempDir()
	base := time.Now().Add(-time.Hour)
	for i, name := range names {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Join(dir, "hg", ".hg"), 0o755); err != nil {
			t.Fatal(err)
		}
		half := size / 2
		os.WriteFile(filepath.Join(dir, "hg", ".hg", "a"), make([]byte, half), 0o644)
		os.WriteFile(filepath.Join(dir, "b"), make([]byte, size-half), 0o644)
		used := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(dir, used, used); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func quotaLeft(t *testing.T, root string) string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

func quotaLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func TestQuotaEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	root := quotaCaches(t, 100, "old", "mid", "new", "keep")
	os.WriteFile(filepath.Join(root, "stray-file"), make([]byte, 1000), 0o644) // not a cache
	log, logs := quotaLogger()
	EnforceQuota(context.Background(), root, 250, "keep", log)
	if got := quotaLeft(t, root); got != "keep new stray-file" {
		t.Errorf("left %q, want the two most recently used caches (and the stray file)", got)
	}
	if n := strings.Count(logs.String(), "removed the least recently used cache"); n != 2 {
		t.Errorf("%d removals logged:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "mirror=old") || !strings.Contains(logs.String(), "mirror=mid") {
		t.Errorf("log does not name the removed caches:\n%s", logs)
	}
}

func TestQuotaWithinQuota(t *testing.T) {
	t.Parallel()
	root := quotaCaches(t, 100, "a", "b")
	log, logs := quotaLogger()
	EnforceQuota(context.Background(), root, 200, "b", log)
	if got := quotaLeft(t, root); got != "a b" {
		t.Errorf("left %q: nothing should be removed", got)
	}
	if logs.Len() != 0 {
		t.Errorf("logged:\n%s", logs)
	}
}

func TestQuotaKeepMarkedUsed(t *testing.T) {
	t.Parallel()
	// "keep" is the oldest until EnforceQuota marks it used: then "a" goes.
	root := quotaCaches(t, 100, "keep", "a", "b")
	log, _ := quotaLogger()
	EnforceQuota(context.Background(), root, 250, "keep", log)
	if got := quotaLeft(t, root); got != "b keep" {
		t.Errorf("left %q", got)
	}
	fi, err := os.Stat(filepath.Join(root, "keep"))
	if err != nil || time.Since(fi.ModTime()) > time.Minute {
		t.Errorf("keep not marked as just used: %v, %v", fi.ModTime(), err)
	}
}

func TestQuotaSkipsLockedAndKept(t *testing.T) {
	t.Parallel()
	root := quotaCaches(t, 100, "busy", "idle", "keep")
	unlock, err := Lock(context.Background(), filepath.Join(root, "busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	log, logs := quotaLogger()
	// Even a quota of one byte removes neither the cache being synced
	// (locked) nor the one just synced.
	EnforceQuota(context.Background(), root, 1, "keep", log)
	if got := quotaLeft(t, root); got != "busy keep" {
		t.Errorf("left %q, want the locked and the kept cache", got)
	}
	if !strings.Contains(logs.String(), "cache quota exceeded by caches in use") {
		t.Errorf("no warning that the quota is still exceeded:\n%s", logs)
	}
}

func TestQuotaMissingCacheDir(t *testing.T) {
	t.Parallel()
	log, logs := quotaLogger()
	EnforceQuota(context.Background(), filepath.Join(t.TempDir(), "absent"), 1, "x", log)
	if !strings.Contains(logs.String(), "cannot read the cache dir") {
		t.Errorf("no warning for a missing cache dir:\n%s", logs)
	}
}

func TestDirSize(t *testing.T) {
	t.Parallel()
	root := quotaCaches(t, 1234, "c")
	os.Symlink("/dev/zero", filepath.Join(root, "c", "link")) // not a regular file
	if got := dirSize(filepath.Join(root, "c")); got != 1234 {
		t.Errorf("dirSize = %d, want 1234", got)
	}
	if got := dirSize(filepath.Join(root, "absent")); got != 0 {
		t.Errorf("dirSize of a missing dir = %d", got)
	}
}
