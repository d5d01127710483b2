package hg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePhaseKeys(t *testing.T) {
	root := strings.Repeat("ab", 20)
	rp, err := ParsePhaseKeys([]byte(root + "\t1\npublishing\tTrue\n"))
	if err != nil || !rp.Publishing || len(rp.DraftRoots) != 1 || rp.DraftRoots[0].String() != root {
		t.Errorf("ParsePhaseKeys = %+v, %v", rp, err)
	}
	if rp, err := ParsePhaseKeys(nil); err != nil || !rp.Publishing || len(rp.DraftRoots) != 0 {
		t.Errorf("empty: %+v, %v (a server without phases publishes)", rp, err)
	}
	if rp, err := ParsePhaseKeys([]byte(root + "\t1\n")); err != nil || rp.Publishing || len(rp.DraftRoots) != 1 {
		t.Errorf("drafts only: %+v, %v", rp, err)
	}
	for _, bad := range []string{"no tab\n", "xyz\t1\n"} {
		if _, err := ParsePhaseKeys([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestStateCommandsRefuseOptionSources: a source hg could read as an
// option never reaches a command line.
func TestStateCommandsRefuseOptionSources(t *testing.T) {
	r := &Runner{}
	ctx := context.Background()
	if _, err := r.ListPhases(ctx, "--config=x.y=z"); err == nil {
		t.Error("ListPhases accepted an option as source")
	}
	if _, err := r.Outgoing(ctx, t.TempDir(), "-q"); err == nil {
		t.Error("Outgoing accepted an option as source")
	}
	var he *Error
	if _, err := r.Outgoing(ctx, t.TempDir(), "-q"); !errors.As(err, &he) || he.Kind != KindNotFound {
		t.Errorf("Outgoing error %v, want a KindNotFound *Error", err)
	}
}

// TestStateCommands runs Outgoing, Strip, ForceDraft, ListPhases and
// ClearBookmarks against real repositories.
func TestStateCommands(t *testing.T) {
	requireHg(t)
	src := initRepo(t, "src")
	writeFile(t, filepath.Join(src, "f"), "1")
	runHg(t, src, "commit", "-A", "-m", "one", "-d", "0 0")
	clone := filepath.Join(t.TempDir(), "clone")
	runHg(t, "", "clone", "-q", "-U", "--", src, clone)
	writeFile(t, filepath.Join(src, "f"), "2")
	runHg(t, src, "commit", "-m", "two", "-d", "1 0")
	runHg(t, src, "bookmark", "-r", ".", "bm")
	runHg(t, "", "pull", "-q", "--repository", clone, "--", src)
	two := strings.TrimSpace(string(runHg(t, src, "log", "-r", ".", "-T", "{node}")))
	runHg(t, src, "--config", "extensions.strip=", "strip", "-q", "--no-backup", "-r", two)

	r := (&Runner{}).WithEvolution()
	ctx := context.Background()
	gone, err := r.Outgoing(ctx, clone, src)
	if err != nil || len(gone) != 1 || gone[0].String() != two {
		t.Fatalf("Outgoing = %v, %v; want [%s]", gone, err, two)
	}
	if err := r.Strip(ctx, clone, gone); err != nil {
		t.Fatal(err)
	}
	if gone, err := r.Outgoing(ctx, clone, src); err != nil || len(gone) != 0 {
		t.Fatalf("Outgoing after strip = %v, %v", gone, err)
	}
	rp, err := r.ListPhases(ctx, src)
	if err != nil || !rp.Publishing {
		t.Fatalf("ListPhases = %+v, %v", rp, err)
	}
	one := strings.TrimSpace(string(runHg(t, clone, "log", "-r", "tip", "-T", "{node}")))
	n, _ := ParseNode(one)
	if err := r.ForceDraft(ctx, clone, []Node{n}); err != nil {
		t.Fatal(err)
	}
	if ph := strings.TrimSpace(string(runHg(t, clone, "log", "-r", one, "-T", "{phase}"))); ph != "draft" {
		t.Errorf("phase after ForceDraft: %s", ph)
	}
	// The bookmark strip moved to the parent is cleared.
	if _, err := os.Stat(filepath.Join(clone, ".hg", "bookmarks")); err != nil {
		t.Fatalf("strip left no bookmarks file: %v", err)
	}
	if err := ClearBookmarks(clone); err != nil {
		t.Fatal(err)
	}
	if out := runHg(t, clone, "bookmarks", "-T", "{bookmark}\n"); len(out) != 0 {
		t.Errorf("bookmarks after ClearBookmarks: %q", out)
	}
	if err := ClearBookmarks(clone); err != nil {
		t.Errorf("ClearBookmarks without bookmarks: %v", err)
	}
}
