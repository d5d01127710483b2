package mirror

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// cacheHg runs hg in a cache as the syncer does (markers exchanged).
func cacheHg(t *testing.T, root string, args ...string) string {
	t.Helper()
	return hgtest.Run(t, root, append([]string{"--config", hg.EvolutionConfig}, args...)...)
}

// nodeLines parses "first rest" lines into first → rest.
func nodeLines(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if n, rest, ok := strings.Cut(line, " "); ok {
			m[n] = rest
		} else if line != "" {
			m[line] = ""
		}
	}
	return m
}

// checkCacheState asserts, after a sync of m from src, that the cache holds
// the source's state exactly and that res.Source says so: the same
// bookmarks (no NAME@path), the same visible changesets with the same
// phases (nothing hidden, secret or stripped at the source is visible in
// the cache), the cache's hidden set in Source.Hidden, a destination whose
// branches are the bookmarks and whose commits are all visible
// changesets, and a cache hg verify accepts.
func checkCacheState(t *testing.T, step string, s *Syncer, m Mirror, src *hgtest.Repo, res *Result) {
	t.Helper()
	root := s.HgRoot(m.Name)
	st := res.Source
	if st == nil {
		t.Fatalf("%s: no source state", step)
	}
	srcMarks := src.Bookmarks()
	cacheMarks := nodeLines(cacheHg(t, root, "bookmarks", "-T", "{bookmark} {node}\n")) // name → node
	gotMarks := map[string]string{}
	for name, node := range st.Bookmarks {
		gotMarks[name] = node.String()
	}
	if fmt.Sprint(cacheMarks) != fmt.Sprint(srcMarks) || fmt.Sprint(gotMarks) != fmt.Sprint(srcMarks) {
		t.Errorf("%s: bookmarks: source %v, cache %v, state %v", step, srcMarks, cacheMarks, gotMarks)
	}
	for name := range cacheMarks {
		if strings.Contains(name, "@") {
			t.Errorf("%s: divergent bookmark %q in the cache", step, name)
		}
	}
	srcVisible := nodeLines(src.Run("log", "-r", "not secret()", "-T", "{node} {phase}\n"))
	if st.Publishing {
		for n := range srcVisible { // a publishing source serves everything as public
			srcVisible[n] = "public"
		}
	}
	cacheVisible := nodeLines(cacheHg(t, root, "log", "-r", "all()", "-T", "{node} {phase}\n"))
	if fmt.Sprint(srcVisible) != fmt.Sprint(cacheVisible) {
		t.Errorf("%s: visible changesets and phases:\nsource %v\ncache  %v", step, srcVisible, cacheVisible)
	}
	for n, phase := range cacheVisible {
		node, _ := hg.ParseNode(n)
		if st.PhaseOf(node).String() != phase {
			t.Errorf("%s: state says %s is %s, the cache %s", step, n, st.PhaseOf(node), phase)
		}
	}
	hidden := nodeLines(cacheHg(t, root, "log", "--hidden", "-r", "hidden()", "-T", "{node}\n"))
	var gotHidden []string
	for n := range st.Hidden {
		gotHidden = append(gotHidden, n.String())
	}
	var wantHidden []string
	for n := range hidden {
		wantHidden = append(wantHidden, n)
	}
	sort.Strings(gotHidden)
	sort.Strings(wantHidden)
	if fmt.Sprint(gotHidden) != fmt.Sprint(wantHidden) {
		t.Errorf("%s: state hidden %v, cache hidden() %v", step, gotHidden, wantHidden)
	}
	// The destination: a branch per bookmark (a deleted one is kept, see
	// refs), no NAME@path branch, and every commit it holds is the
	// conversion of a changeset visible at the source.
	refs := gittest.Refs(t, m.Dest.URL)
	for ref := range refs {
		if strings.Contains(ref, "@") {
			t.Errorf("%s: destination ref %s", step, ref)
		}
	}
	byHgNode, err := convert.ReadMap(convert.MapPath(root))
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range srcMarks {
		node, _ := hg.ParseNode(n)
		if got, want := refs["refs/heads/"+name], byHgNode[node].String(); got != want {
			t.Errorf("%s: destination branch %s = %q, want %s (bookmark at %s)", step, name, got, want, n)
		}
	}
	byGit := map[string]string{}
	for n, h := range byHgNode {
		byGit[h.String()] = n.String()
	}
	if len(refs) > 0 {
		for _, sha := range strings.Fields(gittest.Run(t, "", "--git-dir="+m.Dest.URL, "rev-list", "--all")) {
			if _, ok := srcVisible[byGit[sha]]; !ok {
				t.Errorf("%s: destination commit %s is changeset %q, not visible at the source", step, sha, byGit[sha])
			}
		}
	}
	cacheHg(t, root, "verify", "-q")
}

// syncOK syncs m and fails the test on error.
func syncOK(t *testing.T, s *Syncer, m Mirror, step string) *Result {
	t.Helper()
	res, err := s.Sync(testCtx(t), m, SyncOptions{})
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return res
}

// TestSyncLivingSource mirrors a non-publishing hg serve with evolve and
// topic while its drafts are rewritten in every way hg offers (amend,
// prune, fold, rebase, histedit of bookmarked drafts; a topic created,
// amended, published and merged; a bookmark deleted; a secret changeset; a
// changeset moved back to draft), checking after each sync that the cache
// holds exactly the source's state.
func TestSyncLivingSource(t *testing.T) {
	t.Parallel()
	src := hgtest.NewRepo(t, hgtest.WithEvolve(), hgtest.WithTopics(), hgtest.NonPublishing())
	srv := hgtest.Serve(t, src, hgtest.NonPublishing(), hgtest.WithEvolve(), hgtest.WithTopics())
	s := newSyncer(t)
	m := hgMirror("living", srv.URL, gittest.Bare(t))
	m.Policy.Force = true // rewrites are followed (rule 2 is refs' work)

	n := 0
	commit := func(opts ...hgtest.CommitOption) string {
		n++
		src.Write(fmt.Sprintf("f%d", n), fmt.Sprintf("%d\n", n))
		return src.Commit(opts...)
	}
	base := commit()
	src.Run("phase", "--public", "-r", base)
	a := commit(hgtest.WithBookmark("main"))
	b := commit(hgtest.WithParent(a), hgtest.WithBookmark("prune-me"))
	commit(hgtest.WithParent(a))
	c2 := commit(hgtest.WithBookmark("fold"))
	d := commit(hgtest.WithParent(base), hgtest.WithBookmark("reb"))
	e1 := commit(hgtest.WithParent(a))
	commit(hgtest.WithBookmark("hist"))
	f := commit(hgtest.WithParent(a), hgtest.WithTopic("feat"))
	src.Run("topic", "-q", "--clear")
	src.Update("null")
	res := syncOK(t, s, m, "first sync")
	checkCacheState(t, "first sync", s, m, src, res)
	if len(res.Source.Heads) != 5 || res.Source.Publishing {
		t.Errorf("first sync: heads %+v, publishing %v", res.Source.Heads, res.Source.Publishing)
	}

	// Every kind of rewrite at once, each of a changeset the cache has.
	src.Update(a)
	src.Write("a", "amended\n")
	a2 := src.Amend() // main moves to a non-descendant
	src.Prune(b)
	src.Update(c2)
	src.Run("fold", "-q", "--exact", "-r", "p1(.)+.", "-m", "folded")
	src.Run("--config", "extensions.rebase=", "rebase", "-q", "-r", d, "-d", a2)
	e2 := src.Node("hist")
	src.Update(e2)
	src.Histedit(e1, "pick "+e2[:12], "pick "+e1[:12])
	src.Update(f)
	f2 := src.Amend(hgtest.WithFile("feat", "amended\n"))
	// A changeset hidden before the cache ever saw it is never exported.
	never := commit(hgtest.WithParent(a2), hgtest.WithBookmark("never"))
	src.Amend(hgtest.WithFile("never", "amended\n"))
	src.Update("null")
	res = syncOK(t, s, m, "rewrites")
	checkCacheState(t, "rewrites", s, m, src, res)
	byHg, _ := convert.ReadMap(convert.MapPath(s.HgRoot(m.Name)))
	for _, n := range []string{never} {
		node, _ := hg.ParseNode(n)
		if _, ok := byHg[node]; ok {
			t.Errorf("changeset %s, hidden before its first sync, was converted", n)
		}
	}
	oldA, _ := hg.ParseNode(a)
	newA, _ := hg.ParseNode(a2)
	if succ, _ := res.Source.Successors(oldA); len(succ) != 1 || succ[0] != newA {
		t.Errorf("successors of the amended changeset: %v, want %s", succ, a2)
	}
	pruned, _ := hg.ParseNode(b)
	if _, p := res.Source.Successors(pruned); !p || !res.Source.Hidden[pruned] {
		t.Errorf("pruned changeset: pruned %v, hidden %v", p, res.Source.Hidden[pruned])
	}
	topics := 0
	for _, h := range res.Source.Heads {
		if h.Topic == "feat" {
			topics++
			if h.Node.String() != f2 || h.Phase != hg.Draft {
				t.Errorf("topic head %+v, want the amended %s, draft", h, f2)
			}
		}
	}
	if topics != 1 {
		t.Errorf("%d heads of topic feat, want 1: %+v", topics, res.Source.Heads)
	}

	// The topic published, another topic merged, a bookmark deleted, a
	// secret changeset, and a public changeset moved back to draft.
	src.Run("phase", "--public", "-r", f2)
	g := commit(hgtest.WithParent(base), hgtest.WithTopic("merged"))
	src.Run("topic", "-q", "--clear")
	src.Update("main")
	src.Run("merge", "-q", "-r", g)
	src.Commit(hgtest.WithMessage("merge the topic"))
	src.Run("bookmark", "-q", "-d", "fold")
	secret := commit(hgtest.WithParent(base))
	src.Run("phase", "--force", "--secret", "-r", secret)
	src.Update("null")
	res = syncOK(t, s, m, "published")
	checkCacheState(t, "published", s, m, src, res)
	for _, h := range res.Source.Heads {
		if h.Topic != "" {
			t.Errorf("a topic head remains: %+v", h)
		}
	}

	// Moved back to draft at the source: the cache follows (a pull alone
	// never makes a public changeset draft), and the topic is back.
	src.Run("phase", "--force", "--draft", "-r", f2)
	res = syncOK(t, s, m, "demoted")
	checkCacheState(t, "demoted", s, m, src, res)
	node, _ := hg.ParseNode(f2)
	if ph := res.Source.PhaseOf(node); ph != hg.Draft {
		t.Errorf("the source moved %s back to draft; the state says %s", f2, ph)
	}
	if !strings.Contains(fmt.Sprint(res.Source.Heads), "feat") {
		t.Errorf("no topic head after the topic's changeset became draft again: %+v", res.Source.Heads)
	}

	// hg-git on a copy of the cache (markers and all) exports exactly the
	// visible changesets, as the same commits.
	cp := filepath.Join(t.TempDir(), "copy")
	hgtest.Run(t, "", "clone", "-q", "-U", "--", s.HgRoot(m.Name), cp)
	if _, err := (&hggit.Converter{Runner: s.Hg}).Convert(testCtx(t), cp, convert.Options{}); err != nil {
		t.Fatal(err)
	}
	want, err := convert.ReadMap(convert.MapPath(cp))
	if err != nil {
		t.Fatal(err)
	}
	got, err := convert.ReadMap(convert.MapPath(s.HgRoot(m.Name)))
	if err != nil {
		t.Fatal(err)
	}
	visible := nodeLines(cacheHg(t, s.HgRoot(m.Name), "log", "-r", "all()", "-T", "{node}\n"))
	if len(want) != len(visible) {
		t.Errorf("hg-git converted %d changesets, %d are visible", len(want), len(visible))
	}
	for n, h := range want {
		if _, ok := visible[n.String()]; !ok {
			t.Errorf("hg-git converted %s, not visible", n)
		}
		if got[n] != h {
			t.Errorf("%s: hg-git %s, native %s", n, h, got[n])
		}
	}
}

// TestSyncStrippedSource: a changeset stripped at a publishing source
// (no markers) and a new push: the cache drops it, lists it in
// Source.Stripped, and keeps the source's bookmarks.
func TestSyncStrippedSource(t *testing.T) {
	t.Parallel()
	src := hgtest.NewRepo(t)
	srv := hgtest.Serve(t, src)
	s := newSyncer(t)
	m := hgMirror("stripped", srv.URL, gittest.Bare(t))
	m.Policy.Force = true
	src.Commit(hgtest.WithBookmark("main"), hgtest.WithFile("a", "1\n"))
	gone := src.Commit(hgtest.WithBookmark("main"), hgtest.WithFile("a", "2\n"))
	res := syncOK(t, s, m, "first sync")
	checkCacheState(t, "first sync", s, m, src, res)
	if !res.Source.Publishing || len(res.Source.Phases) != 0 {
		t.Errorf("publishing %v, drafts %v", res.Source.Publishing, res.Source.Phases)
	}

	src.Run("--config", "extensions.strip=", "strip", "-q", "--no-backup", "-r", gone)
	src.Commit(hgtest.WithBookmark("main"), hgtest.WithFile("a", "3\n"))
	res = syncOK(t, s, m, "after strip")
	checkCacheState(t, "after strip", s, m, src, res)
	if len(res.Source.Stripped) != 1 || res.Source.Stripped[0].String() != gone {
		t.Errorf("Stripped = %v, want [%s]", res.Source.Stripped, gone)
	}
	res = syncOK(t, s, m, "again")
	if len(res.Source.Stripped) != 0 || res.Changesets != 0 || len(res.RefsUpdated) != 0 {
		t.Errorf("a sync with nothing new: stripped %v, changesets %d, refs %v", res.Source.Stripped, res.Changesets, res.RefsUpdated)
	}
}
