package mirror

import (
	"fmt"
	"path"
	"sort"
	"strings"
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

// hgRefs maps a converted Mercurial repository to destination refs:
// bookmarks → refs/heads/<bookmark>; with no bookmark, tip →
// refs/heads/<TipBranch>; named-branch heads → refs/heads/branches/<name>
// when NamedBranches; tags → refs/tags/<name> when Tags; then the globs.
// Values are git shas (hex). Names Git cannot take are skipped with a
// warning, never silently.
func (p RefPolicy) hgRefs(bookmarks, tags, branchHeads map[string]string, tip string) (map[string]string, []string) {
	refs := make(map[string]string)
	var warnings []string
	add := func(ref, sha, what string) {
		if sha == "" {
			return
		}
		if !validRefName(ref) {
			warnings = append(warnings, fmt.Sprintf("%s %q cannot be a git ref (%s): skipped", what, strings.TrimPrefix(ref, "refs/"), ref))
			return
		}
		if old, ok := refs[ref]; ok && old != sha {
			warnings = append(warnings, fmt.Sprintf("%s: %s collides with another ref: skipped", ref, what))
			return
		}
		if p.match(ref) {
			refs[ref] = sha
		}
	}
	for _, name := range sortedKeys(bookmarks) {
		add("refs/heads/"+name, bookmarks[name], "bookmark")
	}
	if len(bookmarks) == 0 && tip != "" {
		add("refs/heads/"+p.tipBranch(), tip, "tip")
	}
	if p.NamedBranches {
		for _, name := range sortedKeys(branchHeads) {
			add("refs/heads/branches/"+name, branchHeads[name], "named branch")
		}
	}
	if p.Tags {
		for _, name := range sortedKeys(tags) {
			add("refs/tags/"+name, tags[name], "tag")
		}
	}
	return refs, warnings
}

// gitRefs filters a Git source's refs (full names → shas) by the policy:
// branches always, tags when Tags, then the globs.
func (p RefPolicy) gitRefs(src map[string]string) map[string]string {
	refs := make(map[string]string)
	for ref, sha := range src {
		switch {
		case strings.HasPrefix(ref, "refs/heads/"):
		case strings.HasPrefix(ref, "refs/tags/"):
			if !p.Tags {
				continue
			}
		default:
			continue
		}
		if p.match(ref) {
			refs[ref] = sha
		}
	}
	return refs
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
