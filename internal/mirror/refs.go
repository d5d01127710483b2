package mirror

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

// pathMatch is path.Match; a variable so Validate and match share one rule.
var pathMatch = path.Match

// match reports whether ref passes the policy's globs (all refs when there
// are none).
func (p RefPolicy) match(ref string) bool {
	if len(p.Refs) == 0 {
		return true
	}
	for _, g := range p.Refs {
		if ok, _ := pathMatch(g, ref); ok {
			return true
		}
	}
	return false
}

// tipBranch is TipBranch or "master".
func (p RefPolicy) tipBranch() string {
	if p.TipBranch == "" {
		return "master"
	}
	return p.TipBranch
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validRefName reports whether ref is a full ref name `git check-ref-format`
// accepts (refs/<at least one more component>).
func validRefName(ref string) bool {
	if !strings.HasPrefix(ref, "refs/") || len(ref) > 1024 {
		return false
	}
	if strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".") ||
		strings.Contains(ref, "..") || strings.Contains(ref, "//") || strings.Contains(ref, "@{") {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return false
		}
	}
	comps := strings.Split(ref, "/")
	if len(comps) < 3 {
		return false
	}
	for _, c := range comps {
		if c == "" || c[0] == '.' || strings.HasSuffix(c, ".lock") || c == "@" {
			return false
		}
	}
	return true
}

// wantRef is one ref the source gives the destination: its status as far
// as the source decides it (State "" = exportable, Value its commit).
type wantRef struct {
	RefStatus
	Value git.Hash
}

// hgSource is what the refs of an hg mirror are derived from: the source's
// state after the pull and the converter's map and refs.
type hgSource struct {
	State       *hg.SourceState
	Git         map[hg.Node]git.Hash // converted changesets
	Tags        map[string]git.Hash  // tag (hg-git's name) → commit, from the converter
	BranchHeads map[string]git.Hash  // named branch → its tipmost open head, from the converter
	// Parent returns a changeset's first parent, its branch and topic
	// (ok false when unknown); heptapod's branch refs follow a topic's
	// stack down to the branch it sits on. May be nil.
	Parent func(hg.Node) (p1 hg.Node, branch, topic string, ok bool)
}

// heptapodBranchHead is the changeset Heptapod's branch/NAME points at:
// the converter's head of the branch (it knows closed heads) unless that
// is a topic's changeset; then the tipmost head of the branch without a
// topic, or else the base the topic's stack sits on (the first changeset
// without a topic down its first parents).
func heptapodBranchHead(src hgSource, byGit map[git.Hash]hg.Node, branch string, plain []hg.Node) (hg.Node, bool) {
	n, ok := byGit[src.BranchHeads[branch]]
	if ok && src.Parent != nil {
		if _, _, topic, known := src.Parent(n); known && (topic == "" || src.State.PhaseOf(n) == hg.Public) {
			return n, true
		}
	}
	if len(plain) > 0 {
		return plain[len(plain)-1], true
	}
	if !ok || src.Parent == nil {
		return hg.Node{}, false
	}
	for range 100000 { // a stack, not the history: bounded
		p1, b, topic, known := src.Parent(n)
		if !known || b != branch {
			return hg.Node{}, false
		}
		if topic == "" || src.State.PhaseOf(n) == hg.Public {
			return n, true
		}
		if p1.IsNull() {
			return hg.Node{}, false
		}
		n = p1
	}
	return hg.Node{}, false
}

// refSet collects wanted refs in priority order, refusing names Git
// refuses and names that collide (same ref, or a ref and a ref below it
// such as a and a/b), with a warning each.
type refSet struct {
	p        RefPolicy
	refs     []wantRef
	byRef    map[string]int  // ref → index in refs (exportable or not)
	dirs     map[string]bool // every "refs/heads/a" that is a directory of an accepted ref
	warnings []convert.Warning
}

func newRefSet(p RefPolicy) *refSet {
	return &refSet{p: p, byRef: map[string]int{}, dirs: map[string]bool{}}
}

func (s *refSet) warn(kind, node, path, format string, args ...any) {
	s.warnings = append(s.warnings, convert.Warning{Rev: -1, Node: node, Path: path, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// add adds ref for origin/name at value (state "" when exportable). It
// reports whether the ref was taken (false for excluded or refused names).
func (s *refSet) add(ref string, origin Origin, name, node string, value git.Hash, state RefState, detail string) bool {
	if !s.p.match(ref) {
		return false
	}
	w := wantRef{RefStatus: RefStatus{Ref: ref, Origin: origin, Name: name, Node: node, State: state, Detail: detail}, Value: value}
	if why := badRefName(ref); why != "" {
		w.State, w.Value, w.Detail = RefBadName, git.Hash{}, why
		s.warn(convert.WarnRef, node, name, "%s %q cannot be the Git ref %q (%s): not exported", origin, name, ref, why)
		s.refs = append(s.refs, w)
		return false
	}
	if i, ok := s.byRef[ref]; ok {
		prev := s.refs[i]
		if prev.Value == value && prev.State == state {
			return true // the same ref twice (a bookmark named like a branch ref, at its head)
		}
		w.State, w.Value, w.Detail = RefBadName, git.Hash{}, fmt.Sprintf("collides with %s %q", prev.Origin, prev.Name)
		s.warn(convert.WarnRef, node, name, "%s %q: %s %s: not exported", origin, name, ref, w.Detail)
		s.refs = append(s.refs, w)
		return false
	}
	if other := s.dirConflict(ref); other != "" {
		prev := s.refs[s.byRef[other]]
		w.State, w.Value, w.Detail = RefBadName, git.Hash{}, fmt.Sprintf("collides with %s %q (%s)", prev.Origin, prev.Name, other)
		s.warn(convert.WarnRef, node, name, "%s %q: %s %s: Git cannot hold both: not exported", origin, name, ref, w.Detail)
		s.refs = append(s.refs, w)
		return false
	}
	s.byRef[ref] = len(s.refs)
	s.refs = append(s.refs, w)
	for i := len("refs/"); i < len(ref); i++ {
		if ref[i] == '/' {
			s.dirs[ref[:i]] = true
		}
	}
	return true
}

// dirConflict returns an accepted ref that ref would sit below or above
// ("refs/heads/a" against "refs/heads/a/b"), "" when none.
func (s *refSet) dirConflict(ref string) string {
	if s.dirs[ref] {
		for other := range s.byRef {
			if strings.HasPrefix(other, ref+"/") {
				return other
			}
		}
	}
	for i := len("refs/"); i < len(ref); i++ {
		if ref[i] == '/' {
			if _, ok := s.byRef[ref[:i]]; ok {
				return ref[:i]
			}
		}
	}
	return ""
}

// sorted returns the refs sorted by ref name (a refused duplicate after
// the ref it collides with).
func (s *refSet) sorted() []wantRef {
	out := append([]wantRef(nil), s.refs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// badRefName says why Git would refuse ref as a branch or tag ("" when it
// takes it): check-ref-format's rules, and for branches git's own refusal
// of "HEAD" and of names starting with "-".
func badRefName(ref string) string {
	if !validRefName(ref) {
		return "git check-ref-format refuses it"
	}
	for _, prefix := range []string{"refs/heads/", "refs/tags/"} {
		if name, ok := strings.CutPrefix(ref, prefix); ok {
			if name == "HEAD" || strings.HasPrefix(name, "-") {
				return "Git refuses a branch or tag named HEAD or starting with '-'"
			}
		}
	}
	return ""
}

// hgRefStates derives the refs an hg mirror wants at the destination from
// the source's state, by the policy's layout and phases:
//
//   - hg-git: bookmarks → refs/heads/NAME; with no bookmark, tip →
//     refs/heads/<TipBranch>; named-branch heads → refs/heads/branches/NAME
//     when NamedBranches; tags → refs/tags/NAME when Tags; every head no
//     ref reaches → refs/heads/wild/NODE when WildHeads, else a
//     head-unexported warning.
//   - heptapod: each named branch's head → refs/heads/branch/NAME, each
//     topic's head → refs/heads/topic/BRANCH/TOPIC, bookmarks as
//     themselves, tags when Tags, every other head → refs/heads/wild/NODE.
//
// A ref whose changeset is secret is not exported; with phases = "public",
// one whose changeset is not public is waiting. Names Git refuses or that
// collide are not exported, with a warning. Refs outside the globs are
// left out.
func (p RefPolicy) hgRefStates(src hgSource) ([]wantRef, []convert.Warning) {
	st := src.State
	if st == nil {
		st = &hg.SourceState{}
	}
	byGit := make(map[git.Hash]hg.Node, len(src.Tags)+len(src.BranchHeads))
	for n, h := range src.Git {
		byGit[h] = n
	}
	s := newRefSet(p)
	// target is what a ref on node exports: its commit, or why not.
	target := func(n hg.Node) (git.Hash, RefState, string) {
		if st.Hidden[n] {
			return git.Hash{}, RefNotPresent, "the changeset is obsolete at the source"
		}
		ph := st.PhaseOf(n)
		if ph == hg.Secret {
			return git.Hash{}, RefSecret, "the changeset is secret"
		}
		h, ok := src.Git[n]
		if !ok {
			return git.Hash{}, RefNotPresent, "the changeset has no Git commit"
		}
		if p.phases() == PhasesPublic && ph != hg.Public {
			return git.Hash{}, RefWaiting, "the changeset is " + ph.String() + "; phases = \"public\""
		}
		return h, "", ""
	}
	addNode := func(ref string, origin Origin, name string, n hg.Node) bool {
		h, state, why := target(n)
		return s.add(ref, origin, name, n.String(), h, state, why)
	}
	bookmarks := sortedKeys(st.Bookmarks)
	heads := st.Heads
	addTags := func() {
		if !p.Tags {
			return
		}
		for _, name := range sortedKeys(src.Tags) {
			h := src.Tags[name]
			if n, ok := byGit[h]; ok {
				addNode("refs/tags/"+name, OriginTag, name, n)
			} else {
				s.add("refs/tags/"+name, OriginTag, name, "", h, "", "")
			}
		}
	}
	reached := map[hg.Node]bool{}
	markReached := func() {
		for _, w := range s.refs {
			if w.State == "" {
				if n, err := hg.ParseNode(w.Node); err == nil {
					reached[n] = true
				}
			}
		}
	}
	if p.layout() == LayoutHeptapod {
		bookmarked := map[hg.Node]bool{}
		for _, name := range bookmarks {
			bookmarked[st.Bookmarks[name]] = true
		}
		// The tipmost head of each branch (without topic) and of each
		// topic; the others are wild.
		type group struct{ branch, topic string }
		last := map[group]hg.Node{}
		var order []group
		for _, h := range heads {
			if h.Phase == hg.Secret {
				continue
			}
			g := group{h.Branch, h.Topic}
			if _, ok := last[g]; !ok {
				order = append(order, g)
			}
			last[g] = h.Node
		}
		sort.Slice(order, func(i, j int) bool {
			if (order[i].topic == "") != (order[j].topic == "") {
				return order[i].topic == ""
			}
			if order[i].branch != order[j].branch {
				return order[i].branch < order[j].branch
			}
			return order[i].topic < order[j].topic
		})
		plain := map[string][]hg.Node{}
		for _, h := range heads {
			if h.Topic == "" && h.Phase != hg.Secret {
				plain[h.Branch] = append(plain[h.Branch], h.Node)
			}
		}
		branches := map[string]bool{}
		for _, g := range order {
			branches[g.branch] = true
		}
		for b := range src.BranchHeads {
			branches[b] = true
		}
		branchHead := map[string]hg.Node{}
		for _, b := range sortedKeys(branches) {
			if n, ok := heptapodBranchHead(src, byGit, b, plain[b]); ok {
				branchHead[b] = n
				addNode("refs/heads/branch/"+b, OriginBranch, b, n)
			}
		}
		for _, g := range order {
			if g.topic != "" {
				addNode("refs/heads/topic/"+g.branch+"/"+g.topic, OriginTopic, g.branch+"/"+g.topic, last[g])
			}
		}
		for _, name := range bookmarks {
			addNode("refs/heads/"+name, OriginBookmark, name, st.Bookmarks[name])
		}
		addTags()
		for _, h := range heads {
			if h.Phase == hg.Secret || bookmarked[h.Node] {
				continue
			}
			if h.Topic != "" && last[group{h.Branch, h.Topic}] == h.Node || h.Topic == "" && branchHead[h.Branch] == h.Node {
				continue
			}
			addNode("refs/heads/wild/"+h.Node.String(), OriginHead, h.Node.String(), h.Node)
		}
		return s.sorted(), s.warnings
	}

	named := 0 // bookmarks Git can take (as hg-git, tip is exported when there is none)
	for _, name := range bookmarks {
		addNode("refs/heads/"+name, OriginBookmark, name, st.Bookmarks[name])
		if badRefName("refs/heads/"+name) == "" {
			named++
		}
	}
	if named == 0 {
		for i := len(heads) - 1; i >= 0; i-- {
			if heads[i].Phase != hg.Secret {
				addNode("refs/heads/"+p.tipBranch(), OriginHead, "tip", heads[i].Node)
				break
			}
		}
	}
	if p.NamedBranches {
		for _, name := range sortedKeys(src.BranchHeads) {
			if n, ok := byGit[src.BranchHeads[name]]; ok {
				addNode("refs/heads/branches/"+name, OriginBranch, name, n)
			}
		}
	}
	addTags()
	markReached()
	for _, h := range heads {
		if reached[h.Node] || h.Closed || h.Phase == hg.Secret || (p.phases() == PhasesPublic && h.Phase != hg.Public) {
			continue
		}
		if _, ok := src.Git[h.Node]; !ok || st.Hidden[h.Node] {
			continue
		}
		where := h.Branch
		if h.Topic != "" {
			where += "/" + h.Topic
		}
		if p.WildHeads {
			if addNode("refs/heads/wild/"+h.Node.String(), OriginHead, h.Node.String(), h.Node) {
				continue
			}
		}
		s.warn(WarnHeadUnexported, h.Node.String(), where,
			"head %s on branch %s is not exported: no bookmark or other ref points at it (set wild_heads = true to push it as refs/heads/wild/%s)",
			h.Node.String()[:12], describeWhere(h), h.Node)
	}
	return s.sorted(), s.warnings
}

func describeWhere(h hg.Head) string {
	if h.Topic == "" {
		return h.Branch
	}
	return h.Branch + " (topic " + h.Topic + ")"
}

// gitRefStates filters a Git source's refs by the policy (branches
// always, tags when Tags, then the globs), as wanted refs.
func (p RefPolicy) gitRefStates(src map[string]git.Hash) []wantRef {
	s := newRefSet(p)
	for _, ref := range sortedKeys(src) {
		switch {
		case strings.HasPrefix(ref, "refs/heads/"):
			s.add(ref, OriginBranch, strings.TrimPrefix(ref, "refs/heads/"), "", src[ref], "", "")
		case strings.HasPrefix(ref, "refs/tags/") && p.Tags:
			s.add(ref, OriginTag, strings.TrimPrefix(ref, "refs/tags/"), "", src[ref], "", "")
		}
	}
	return s.sorted()
}

// autoDeleted reports whether a ref the mirror pushed is deleted once the
// source no longer has it, prune or not: topic and wild refs, which stand
// for heads rather than names people use.
func (p RefPolicy) autoDeleted(ref string) bool {
	if strings.HasPrefix(ref, "refs/heads/wild/") {
		return p.layout() == LayoutHeptapod || p.WildHeads
	}
	return p.layout() == LayoutHeptapod && strings.HasPrefix(ref, "refs/heads/topic/")
}
