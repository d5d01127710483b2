package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// living is one end-to-end scenario: a repository served by a real
// `hg serve` (evolve and topic, non-publishing unless publishing), a
// mirror of it to a bare Git repository, and helpers to assert the
// destination's exact refs.
type living struct {
	t    *testing.T
	repo *hgtest.Repo
	srv  *hgtest.Server
	s    *Syncer
	m    Mirror
	dest string
	// seen are the Git commits of changesets that became hidden: they must
	// not be reachable at the destination.
	seen map[string]string
}

func newLiving(t *testing.T, publishing bool, policy RefPolicy) *living {
	t.Helper()
	opts := []hgtest.Option{hgtest.WithEvolve(), hgtest.WithTopics()}
	if !publishing {
		opts = append(opts, hgtest.NonPublishing())
	}
	repo := hgtest.NewRepo(t, opts...)
	repo.Commit(hgtest.WithMessage("base"), hgtest.WithFile("README", "base\n"))
	repo.Run("phase", "--public", "-r", ".")
	srv := hgtest.Serve(t, repo, opts...)
	l := &living{t: t, repo: repo, srv: srv, s: newSyncer(t), dest: gittest.Bare(t), seen: map[string]string{}}
	l.m = Mirror{Name: "living", SCM: scm.Hg, Source: srv.URL, Dest: Destination{URL: l.dest}, Policy: policy}
	return l
}

// sync syncs and fails the test on error.
func (l *living) sync() *Result {
	l.t.Helper()
	res, err := l.s.Sync(testCtx(l.t), l.m, SyncOptions{})
	if err != nil {
		l.t.Fatalf("sync: %v", err)
	}
	return res
}

// git returns the Git commit of hg node n (from the mirror's map).
func (l *living) git(n string) string {
	l.t.Helper()
	m, err := convert.ReadMap(convert.MapPath(l.s.HgRoot(l.m.Name)))
	if err != nil {
		l.t.Fatal(err)
	}
	for node, h := range m {
		if node.String() == n {
			return h.String()
		}
	}
	l.t.Fatalf("changeset %s has no Git commit", n)
	return ""
}

// hide records that n (converted earlier) is now hidden at the source.
func (l *living) hide(n string) {
	l.t.Helper()
	l.seen[n] = l.git(n)
}

// expect asserts the destination's refs are exactly want (ref → hg node),
// that no ref has an "@" (a divergent bookmark), and that no hidden
// changeset is reachable from any ref.
func (l *living) expect(step string, want map[string]string) {
	l.t.Helper()
	got := gittest.Refs(l.t, l.dest)
	wantGit := map[string]string{}
	for ref, n := range want {
		wantGit[ref] = l.git(n)
	}
	if !maps.Equal(got, wantGit) {
		l.t.Errorf("%s: destination refs\n  %v\nwant\n  %v", step, got, wantGit)
	}
	for ref := range got {
		if strings.Contains(ref, "@") {
			l.t.Errorf("%s: divergent-bookmark ref %s at the destination", step, ref)
		}
	}
	if len(got) == 0 {
		return
	}
	reachable := gittest.Run(l.t, "", "--git-dir="+l.dest, "rev-list", "--all")
	for n, h := range l.seen {
		if strings.Contains(reachable, h) {
			l.t.Errorf("%s: hidden changeset %s (commit %s) is reachable at the destination", step, n[:12], h[:12])
		}
	}
}

// state returns the state of ref in res ("" when absent).
func state(res *Result, ref string) RefState {
	for _, r := range res.Refs {
		if r.Ref == ref {
			return r.State
		}
	}
	return ""
}

// TestLivingBookmarkRewrites: amend, prune, fold, rebase and histedit of
// bookmarked drafts on a non-publishing server are followed (the markers
// prove them); a deleted bookmark is kept, then pruned with prune = true.
func TestLivingBookmarkRewrites(t *testing.T) {
	t.Parallel()
	l := newLiving(t, false, DefaultPolicy())
	r := l.repo
	d1 := r.Commit(hgtest.WithMessage("d1"), hgtest.WithBookmark("main"), hgtest.WithFile("a", "1\n"))
	r.Run("bookmark", "-q", "-r", d1, "--", "feature")
	res := l.sync()
	if state(res, "refs/heads/main") != RefCreated {
		t.Errorf("first sync: %+v", res.Refs)
	}
	l.expect("first sync", map[string]string{"refs/heads/main": d1, "refs/heads/feature": d1})

	// amend
	r.Update("main")
	d1a := r.Amend(hgtest.WithFile("a", "1 amended\n"))
	l.hide(d1)
	res = l.sync()
	if state(res, "refs/heads/main") != RefRewritten || !res.RefsUpdated[0].Rewritten {
		t.Errorf("amend: main %s, updates %v", state(res, "refs/heads/main"), res.RefsUpdated)
	}
	l.expect("amend", map[string]string{"refs/heads/main": d1a, "refs/heads/feature": d1a})

	// prune: main moves back to the parent of what was pruned
	d2 := r.Commit(hgtest.WithMessage("d2"), hgtest.WithFile("b", "1\n"))
	r.Run("bookmark", "-q", "--force", "-r", d2, "--", "main")
	l.sync()
	l.expect("d2", map[string]string{"refs/heads/main": d2, "refs/heads/feature": d1a})
	r.Prune(d2)
	r.Run("bookmark", "-q", "--force", "-r", d1a, "--", "main")
	l.hide(d2)
	res = l.sync()
	if state(res, "refs/heads/main") != RefRewritten {
		t.Errorf("prune: main %s: %+v", state(res, "refs/heads/main"), res.Refs)
	}
	l.expect("prune", map[string]string{"refs/heads/main": d1a, "refs/heads/feature": d1a})

	// fold two drafts into one
	r.Update("main")
	d3 := r.Commit(hgtest.WithMessage("d3"), hgtest.WithFile("c", "1\n"))
	d4 := r.Commit(hgtest.WithMessage("d4"), hgtest.WithFile("c", "2\n"))
	r.Run("bookmark", "-q", "--force", "-r", d4, "--", "main")
	l.sync()
	r.Run("fold", "-q", "--exact", "-r", d3+"+"+d4, "-m", "d3 and d4", "-d", "1700000000 0")
	folded := r.Node("main")
	l.hide(d3)
	l.hide(d4)
	res = l.sync()
	if state(res, "refs/heads/main") != RefRewritten {
		t.Errorf("fold: main %s: %+v", state(res, "refs/heads/main"), res.Refs)
	}
	l.expect("fold", map[string]string{"refs/heads/main": folded, "refs/heads/feature": d1a})

	// rebase the drafts onto a new public changeset
	r.Update(r.Node("0"))
	p := r.Commit(hgtest.WithMessage("public base"), hgtest.WithFile("p", "1\n"))
	r.Run("phase", "--public", "-r", p)
	r.Run("rebase", "-q", "-s", d1a, "-d", p, "--config", "extensions.rebase=")
	l.hide(d1a)
	l.hide(folded)
	main, feature := r.Node("main"), r.Node("feature")
	res = l.sync()
	if state(res, "refs/heads/main") != RefRewritten || state(res, "refs/heads/feature") != RefRewritten {
		t.Errorf("rebase: %+v", res.Refs)
	}
	l.expect("rebase", map[string]string{"refs/heads/main": main, "refs/heads/feature": feature})

	// histedit: drop the folded changeset under main
	r.Update("main")
	r.Histedit(feature, "pick "+feature[:12], "drop "+main[:12])
	l.hide(main)
	res = l.sync()
	if state(res, "refs/heads/main") != RefRewritten {
		t.Errorf("histedit: main %s: %+v", state(res, "refs/heads/main"), res.Refs)
	}
	l.expect("histedit", map[string]string{"refs/heads/main": r.Node("main"), "refs/heads/feature": feature})

	// a deleted bookmark is kept and reported, then pruned
	r.Run("bookmark", "-q", "-d", "--", "feature")
	res = l.sync()
	if state(res, "refs/heads/feature") != RefKept || !hasWarning(res, WarnRefKept, "feature") {
		t.Errorf("deleted bookmark: %+v %v", res.Refs, res.Warnings)
	}
	l.expect("bookmark deleted", map[string]string{"refs/heads/main": r.Node("main"), "refs/heads/feature": feature})
	l.m.Policy.Prune = true
	res = l.sync()
	if state(res, "refs/heads/feature") != RefDeleted {
		t.Errorf("prune: %+v", res.Refs)
	}
	l.expect("bookmark pruned", map[string]string{"refs/heads/main": r.Node("main")})
}

func hasWarning(res *Result, kind, text string) bool {
	for _, w := range res.Warnings {
		if w.Kind == kind && strings.Contains(w.Message+w.Path+w.Node, text) {
			return true
		}
	}
	return false
}

// TestLivingTopics: in the heptapod layout a topic is created, amended,
// published (its ref goes, the branch moves) and another is merged.
func TestLivingTopics(t *testing.T) {
	t.Parallel()
	l := newLiving(t, false, RefPolicy{Layout: LayoutHeptapod, Tags: true})
	r := l.repo
	base := r.Node(".")
	l.sync()
	l.expect("base", map[string]string{"refs/heads/branch/default": base})

	t1 := r.Commit(hgtest.WithMessage("topic work"), hgtest.WithTopic("feat"), hgtest.WithFile("t", "1\n"))
	res := l.sync()
	if state(res, "refs/heads/topic/default/feat") != RefCreated {
		t.Errorf("topic: %+v", res.Refs)
	}
	l.expect("topic created", map[string]string{"refs/heads/branch/default": base, "refs/heads/topic/default/feat": t1})

	t1a := r.Amend(hgtest.WithFile("t", "1 amended\n"))
	l.hide(t1)
	res = l.sync()
	if state(res, "refs/heads/topic/default/feat") != RefRewritten {
		t.Errorf("topic amended: %+v", res.Refs)
	}
	l.expect("topic amended", map[string]string{"refs/heads/branch/default": base, "refs/heads/topic/default/feat": t1a})

	r.Run("phase", "--public", "-r", t1a)
	res = l.sync()
	if state(res, "refs/heads/topic/default/feat") != RefDeleted {
		t.Errorf("topic published: %+v", res.Refs)
	}
	l.expect("topic published", map[string]string{"refs/heads/branch/default": t1a})

	// another topic, merged into default and published
	r.Update(base)
	u1 := r.Commit(hgtest.WithMessage("other topic"), hgtest.WithTopic("other"), hgtest.WithFile("u", "1\n"))
	l.sync()
	l.expect("second topic", map[string]string{"refs/heads/branch/default": t1a, "refs/heads/topic/default/other": u1})
	r.Update(t1a)
	r.Run("topic", "-q", "--clear")
	r.Run("merge", "-q", "-r", u1)
	merge := r.Commit(hgtest.WithMessage("merge other"))
	r.Run("phase", "--public", "-r", merge)
	res = l.sync()
	if state(res, "refs/heads/topic/default/other") != RefDeleted {
		t.Errorf("topic merged: %+v", res.Refs)
	}
	l.expect("topic merged", map[string]string{"refs/heads/branch/default": merge})
}

// TestLivingStripRefused: on a publishing server, hg strip and a new push
// leave no marker: the moved bookmark is refused (diverged), the sync
// fails naming it, the destination keeps its value; force overwrites.
func TestLivingStripRefused(t *testing.T) {
	t.Parallel()
	l := newLiving(t, true, DefaultPolicy())
	r := l.repo
	a := r.Commit(hgtest.WithMessage("a"), hgtest.WithBookmark("main"), hgtest.WithFile("a", "1\n"))
	b := r.Commit(hgtest.WithMessage("b"), hgtest.WithBookmark("other"), hgtest.WithFile("b", "1\n"))
	r.Run("bookmark", "-q", "--force", "-r", b, "--", "main")
	l.sync()
	l.expect("before strip", map[string]string{"refs/heads/main": b, "refs/heads/other": b})
	r.Run("--config", "extensions.strip=", "strip", "-q", "--no-backup", "-r", b)
	r.Update(a)
	c := r.Commit(hgtest.WithMessage("c"), hgtest.WithFile("c", "1\n"))
	r.Run("bookmark", "-q", "--force", "-r", c, "--", "main")
	r.Run("bookmark", "-q", "--force", "-r", a, "--", "other")
	n := r.Commit(hgtest.WithMessage("n"), hgtest.WithBookmark("new"), hgtest.WithFile("n", "1\n"))

	res, err := l.s.Sync(testCtx(t), l.m, SyncOptions{})
	if !errors.Is(err, ErrDiverged) || ClassOf(err) != BadRequest || res == nil {
		t.Fatalf("sync after strip = %v, %v; want a BadRequest divergence with a result", res, err)
	}
	for _, ref := range []string{"refs/heads/main", "refs/heads/other"} {
		if state(res, ref) != RefDiverged || !strings.Contains(err.Error(), ref) {
			t.Errorf("%s: state %s, error %q", ref, state(res, ref), err)
		}
	}
	if refused := res.Refused(); len(refused) != 2 || !strings.Contains(refused[0].Detail, "no obsolescence marker") {
		t.Errorf("refused = %+v", refused)
	}
	// The others went ahead; the refused refs kept their value.
	got := gittest.Refs(t, l.dest)
	if got["refs/heads/new"] != l.git(n) || got["refs/heads/main"] != l.git(b) || got["refs/heads/other"] != l.git(b) {
		t.Errorf("destination after refusal: %v", got)
	}
	l.m.Policy.Force = true
	res = l.sync()
	if state(res, "refs/heads/main") != RefRewritten {
		t.Errorf("forced: %+v", res.Refs)
	}
	l.expect("forced", map[string]string{"refs/heads/main": c, "refs/heads/other": a, "refs/heads/new": n})
}

// TestLivingPublicPhases: with phases = "public" a draft head waits, and
// is exported once public; secret changesets are never exported.
func TestLivingPublicPhases(t *testing.T) {
	t.Parallel()
	l := newLiving(t, false, RefPolicy{Phases: PhasesPublic, TipBranch: "master"})
	r := l.repo
	base := r.Node(".")
	r.Run("bookmark", "-q", "-r", base, "--", "main")
	d := r.Commit(hgtest.WithMessage("draft"), hgtest.WithFile("d", "1\n"))
	r.Run("bookmark", "-q", "--force", "-r", d, "--", "main")
	res := l.sync()
	l.expect("draft", map[string]string{})
	if state(res, "refs/heads/main") != RefWaiting {
		t.Errorf("draft main: %+v", res.Refs)
	}
	r.Run("phase", "--public", "-r", d)
	res = l.sync()
	l.expect("published", map[string]string{"refs/heads/main": d})
	if state(res, "refs/heads/main") != RefCreated {
		t.Errorf("public main: %+v", res.Refs)
	}
	// A secret changeset is not even pulled; with phases = "all" its
	// draft parent goes, it never does.
	l.m.Policy.Phases = PhasesAll
	s := r.Commit(hgtest.WithMessage("secret"), hgtest.WithFile("s", "1\n"))
	r.Run("phase", "--force", "--secret", "-r", s)
	r.Run("bookmark", "-q", "--force", "-r", s, "--", "secret")
	l.sync()
	if refs := gittest.Refs(t, l.dest); len(refs) != 1 || refs["refs/heads/main"] != l.git(d) {
		t.Errorf("with a secret changeset: %v", refs)
	}
	if out := gittest.Run(t, "", "--git-dir="+l.dest, "log", "--all", "--format=%s"); strings.Contains(out, "secret") {
		t.Errorf("secret changeset exported:\n%s", out)
	}
}

// TestLivingFlaskHeads: flask has three heads on default and no bookmark;
// tip goes to master, the two others are reported with their nodes, then
// pushed as wild/NODE with wild_heads.
func TestLivingFlaskHeads(t *testing.T) {
	t.Parallel()
	flask := hgtest.Unbundle(t, "flask.hg")
	s := newSyncer(t)
	dest := gittest.Bare(t)
	m := hgMirror("flask", flask.Dir, dest)
	// 5,534 changesets: more time than the small scenarios on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s.Hg = &hg.Runner{Timeout: 5 * time.Minute}
	s.Git = &git.Runner{Timeout: 5 * time.Minute}
	res, err := s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	heads := strings.Fields(flask.Run("heads", "-T", "{node}\n"))
	tip := flask.Node("tip")
	var unexported []string
	for _, w := range res.Warnings {
		if w.Kind == WarnHeadUnexported {
			unexported = append(unexported, w.Node)
			if w.Path != "default" || !strings.Contains(w.Message, w.Node[:12]) {
				t.Errorf("warning %+v", w)
			}
		}
	}
	var want []string
	for _, h := range heads {
		if h != tip {
			want = append(want, h)
		}
	}
	slices.Sort(want)
	slices.Sort(unexported)
	if len(heads) != 3 || !slices.Equal(unexported, want) {
		t.Fatalf("heads %v (tip %s): head-unexported warnings for %v, want %v", heads, tip, unexported, want)
	}
	// The first push seeded the empty destination: what the refs reach,
	// not the commits of the heads left out.
	byHg, err := convert.ReadMap(convert.MapPath(s.HgRoot("flask")))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range want {
		n, err := hg.ParseNode(h)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := git.ObjectExists(dest, byHg[n]); ok || err != nil || byHg[n].IsZero() {
			t.Errorf("unexported head %s: commit %s in the destination (%v)", h[:12], byHg[n], err)
		}
	}
	gittest.Run(t, "", "--git-dir="+dest, "fsck", "--strict", "--no-dangling")
	m.Policy.WildHeads = true
	res, err = s.Sync(ctx, m, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := gittest.Refs(t, dest)
	for _, h := range want {
		if got["refs/heads/wild/"+h] == "" {
			t.Errorf("no refs/heads/wild/%s: %v", h, got)
		}
	}
	if hasWarning(res, WarnHeadUnexported, "") {
		t.Errorf("wild heads still reported: %v", res.Warnings)
	}
}

// TestLivingHostile: bookmark and topic names Git refuses or that
// collide, 10,000 bookmarks and a marker cycle give warnings, not a crash;
// no bookmark's name reaches a command line; when one of the 10,000 moves,
// the destination is listed once and that one ref pushed.
func TestLivingHostile(t *testing.T) {
	t.Parallel()
	l := newLiving(t, false, RefPolicy{Layout: LayoutHeptapod})
	r := l.repo
	base := r.Node(".")
	x := r.Commit(hgtest.WithMessage("x"), hgtest.WithTopic("bad..topic"), hgtest.WithFile("x", "1\n"))
	r.Update(base)
	y := r.Commit(hgtest.WithMessage("y"), hgtest.WithFile("y", "1\n"))
	z := r.Commit(hgtest.WithMessage("z"), hgtest.WithFile("z", "1\n"))
	// hg lists no bookmark with an "@" but at its end (a divergent one):
	// x@{y@ is listed, and Git refuses its "@{".
	r.Run("bookmark", "-q", "-r", base, "--", "a", "HEAD", "-dash", "--omg-optimized-2", "sp ace", "x..y", "x@{y@", "ctl\x01x")
	r.Run("bookmark", "-q", "-r", x, "--", "a/b")
	// A marker cycle between y and z (both become obsolete and hidden).
	r.Run("debugobsolete", "-d", "1700000000 0", y, z)
	r.Run("debugobsolete", "-d", "1700000000 0", z, y)
	names := make([]string, 10000)
	for i := range names {
		names[i] = fmt.Sprintf("many/%05d", i)
	}
	r.Run(append([]string{"bookmark", "-q", "-r", base, "--"}, names...)...)

	var logs bytes.Buffer
	l.s.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.s.Git = &git.Runner{Timeout: 5 * time.Minute}
	l.s.Hg = &hg.Runner{Timeout: 5 * time.Minute, Logger: l.s.Logger}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := l.s.Sync(ctx, l.m, SyncOptions{})
	if testing.Verbose() {
		for _, r := range res.Refs {
			if !strings.HasPrefix(r.Ref, "refs/heads/many/") {
				t.Logf("ref %+v", r)
			}
		}
	}
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	got := gittest.Refs(t, l.dest)
	if got["refs/heads/a"] != l.git(base) || got["refs/heads/many/09999"] != l.git(base) || len(got) < 10002 {
		t.Errorf("%d refs; a=%s", len(got), got["refs/heads/a"])
	}
	for _, ref := range []string{"refs/heads/HEAD", "refs/heads/-dash", "refs/heads/--omg-optimized-2", "refs/heads/sp ace", "refs/heads/x..y",
		"refs/heads/x@{y@", "refs/heads/ctl\x01x", "refs/heads/a/b", "refs/heads/topic/default/bad..topic"} {
		if _, ok := got[ref]; ok {
			t.Errorf("%s pushed", ref)
		}
		if st := state(res, ref); st != RefBadName {
			t.Errorf("%s: state %q, want %s", ref, st, RefBadName)
		}
	}
	for _, name := range []string{"HEAD", "-dash", "--omg-optimized-2", "sp ace", "x..y", "x@{y@", "ctl\x01x", "a/b", "bad..topic"} {
		if !hasWarning(res, convert.WarnRef, name) {
			t.Errorf("no warning names %q", name)
		}
	}
	for _, n := range []string{y, z} {
		if _, ok := res.Source.Hidden[mustParse(t, hg.ParseNode, n)]; !ok {
			t.Errorf("changeset %s in a marker cycle is not hidden", n[:12])
		}
	}
	for _, c := range loggedCommands(t, logs.Bytes()) {
		for _, a := range c.Args {
			if strings.Contains(a, "omg-optimized") || strings.Contains(a, "many/") {
				t.Errorf("a bookmark's name on a command line: %s %q", c.Program, c.Args)
			}
		}
	}
	// A second sync with nothing new pushes nothing.
	res = l.sync()
	if len(res.RefsUpdated) != 0 {
		t.Errorf("second sync pushed %d refs", len(res.RefsUpdated))
	}

	// One of the 10,000 bookmarks moves to a new changeset (in a topic
	// Git cannot name, so no other exported ref moves).
	r.Update(x)
	x2 := r.Commit(hgtest.WithMessage("x2"), hgtest.WithTopic("bad..topic"), hgtest.WithFile("x", "2\n"))
	r.Run("bookmark", "-q", "-f", "-r", x2, "--", "many/01234")
	before := gittest.Refs(t, l.dest)
	logs.Reset()
	res = l.sync()
	after := gittest.Refs(t, l.dest)
	if want := "[refs/heads/many/01234 " + l.git(base)[:12] + ".." + l.git(x2)[:12] + "]"; res.Changesets != 1 || fmt.Sprint(res.RefsUpdated) != want {
		t.Errorf("one bookmark moved: %d changesets, refs updated %v, want 1 and %s", res.Changesets, res.RefsUpdated, want)
	}
	before["refs/heads/many/01234"] = l.git(x2)
	if !maps.Equal(after, before) {
		t.Errorf("the destination changed otherwise than refs/heads/many/01234")
	}
	var git, lsRemote []loggedCommand
	var pushes [][]string
	for _, c := range loggedCommands(t, logs.Bytes()) {
		if c.Program != "git" {
			continue
		}
		git = append(git, c)
		switch c.Op {
		case "ls-remote":
			lsRemote = append(lsRemote, c)
		case "push":
			pushes = append(pushes, c.pushed())
		}
	}
	if len(lsRemote) != 1 || fmt.Sprint(pushes) != "[["+l.git(x2)+":refs/heads/many/01234]]" || len(git) > 5 {
		for _, c := range git {
			t.Logf("git %s %q", c.Op, c.Args)
		}
		t.Errorf("one bookmark moved: %d git commands, %d ls-remote, pushes %q; want at most 5, one ls-remote, one push of one ref", len(git), len(lsRemote), pushes)
	}
}
