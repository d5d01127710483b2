package hg

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// evolveConfig enables the evolve and topic extensions (Debian's
// mercurial-evolve) for test commands.
var evolveConfig = []string{"--config", "extensions.evolve=", "--config", "extensions.topic=", "--config", "phases.publish=false"}

// TestStateMatchesHg builds, with real hg, evolve and topic, a repository
// with rewritten, pruned, pinned, orphaned, secret, topic and closed-branch
// changesets, and checks that ReadState sees what hg shows: the same hidden
// set, phases, heads (branch, topic, phase, closed) and bookmarks.
func TestStateMatchesHg(t *testing.T) {
	requireHg(t)
	dir := initRepo(t, "r")
	hg := func(args ...string) string {
		t.Helper()
		return string(runHg(t, dir, append(append([]string{}, evolveConfig...), args...)...))
	}
	n := 0
	commit := func(args ...string) string {
		t.Helper()
		n++
		writeFile(t, filepath.Join(dir, "f"), fmt.Sprint(n))
		hg(append([]string{"commit", "-A", "-m", fmt.Sprint("c", n), "-d", fmt.Sprint(n, " 0")}, args...)...)
		return strings.TrimSpace(hg("log", "-r", ".", "-T", "{node}"))
	}
	base := commit()
	hg("phase", "--public", "-r", base)
	commit()
	hg("bookmark", "bm1")
	hg("amend", "-m", "amended", "-d", "99 0") // the old one is hidden
	aPrime := strings.TrimSpace(hg("log", "-r", ".", "-T", "{node}"))
	pinned := commit()
	hg("prune", "-r", pinned)
	hg("--hidden", "bookmark", "-r", pinned, "pinned") // obsolete but bookmarked: visible
	hg("update", "-r", aPrime)
	pruned := commit()
	hg("prune", "-r", pruned) // hidden
	hg("update", "-r", aPrime)
	orphanParent := commit()
	commit() // its child stays visible, so it does too
	hg("prune", "-r", orphanParent)
	hg("update", "-r", aPrime)
	hg("topic", "feat")
	commit()
	hg("topic", "--clear")
	hg("update", "-r", base)
	commit("--secret")
	hg("update", "-r", base)
	hg("branch", "stable")
	commit()
	commit("--close-branch")
	hg("update", "-r", "null") // no working-copy parent pins anything

	st, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	// hidden(), phases, in one listing.
	all := hg("log", "--hidden", "-r", "all()", "-T", `{node} {phaseidx} {ifcontains(rev, revset("hidden()"), "hidden", "visible")}\n`)
	wantHidden := map[Node]bool{}
	wantPhases := map[Node]Phase{}
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		f := strings.Fields(line)
		node, err := ParseNode(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if f[2] == "hidden" {
			wantHidden[node] = true
		} else if f[1] != "0" {
			wantPhases[node] = Phase(f[1][0] - '0')
		}
	}
	if len(wantHidden) != 2 {
		t.Fatalf("the test repository should have 2 hidden changesets, hg says %d:\n%s", len(wantHidden), all)
	}
	if fmt.Sprint(sortedNodes(st.Hidden)) != fmt.Sprint(sortedNodes(wantHidden)) {
		t.Errorf("hidden %v, hg %v", sortedNodes(st.Hidden), sortedNodes(wantHidden))
	}
	if fmt.Sprint(st.Phases) != fmt.Sprint(wantPhases) {
		t.Errorf("phases %v, hg %v", st.Phases, wantPhases)
	}
	var heads []string
	for _, h := range st.Heads {
		heads = append(heads, fmt.Sprintf("%s %s %s %d %v", h.Node, h.Branch, h.Topic, h.Phase, h.Closed))
	}
	wantHeads := strings.Split(strings.TrimSpace(hg("log", "-r", "sort(heads(all()), rev)", "-T", `{node} {branch} {topic} {phaseidx} {ifcontains(rev, revset("closed()"), "true", "false")}\n`)), "\n")
	for i := range wantHeads {
		wantHeads[i] = strings.Replace(wantHeads[i], "  ", " ", 1) // no topic: one space less
	}
	for i := range heads {
		heads[i] = strings.Replace(heads[i], "  ", " ", 1)
	}
	if strings.Join(heads, "\n") != strings.Join(wantHeads, "\n") {
		t.Errorf("heads:\n%s\nhg:\n%s", strings.Join(heads, "\n"), strings.Join(wantHeads, "\n"))
	}
	if !strings.Contains(strings.Join(heads, "\n"), " feat 1 ") {
		t.Errorf("no draft head with topic feat in %v", heads)
	}
	var bms []string
	for _, name := range st.BookmarkNames() {
		bms = append(bms, name+" "+st.Bookmarks[name].String())
	}
	if got, want := strings.Join(bms, "\n"), strings.TrimSpace(hg("bookmarks", "-T", "{bookmark} {node}\n")); got != want {
		t.Errorf("bookmarks:\n%s\nhg:\n%s", got, want)
	}
	// The secret head and the hidden changesets are excluded; tags are
	// read from the remaining heads.
	ex := st.Excluded()
	for node := range wantHidden {
		if !ex[node] {
			t.Errorf("hidden %s not excluded", node)
		}
	}
	secret := 0
	for node, p := range st.Phases {
		if p == Secret {
			secret++
			if !ex[node] {
				t.Errorf("secret %s not excluded", node)
			}
		}
	}
	if secret != 1 || len(ex) != 3 {
		t.Errorf("%d secret changesets, %d excluded; want 1 and 3", secret, len(ex))
	}
}

func sortedNodes(m map[Node]bool) []string {
	var out []string
	for n := range m {
		out = append(out, n.String())
	}
	sort.Strings(out)
	return out
}
