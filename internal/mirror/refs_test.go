package mirror

import (
	"maps"
	"testing"
)

func TestHgRefs(t *testing.T) {
	t.Parallel()
	bm := map[string]string{"feature": "aa", "stable": "bb"}
	tags := map[string]string{"v1.0": "cc", "bad tag": "dd"}
	heads := map[string]string{"default": "ee", "release": "ff"}
	tests := []struct {
		name      string
		policy    RefPolicy
		bookmarks map[string]string
		tip       string
		want      map[string]string
		warnings  int
	}{
		{"bookmarks", RefPolicy{}, bm, "zz", map[string]string{"refs/heads/feature": "aa", "refs/heads/stable": "bb"}, 0},
		{"tip to master", RefPolicy{}, nil, "zz", map[string]string{"refs/heads/master": "zz"}, 0},
		{"tip to main", RefPolicy{TipBranch: "main"}, nil, "zz", map[string]string{"refs/heads/main": "zz"}, 0},
		{"empty repo", RefPolicy{}, nil, "", map[string]string{}, 0},
		{"tags", RefPolicy{Tags: true}, nil, "zz", map[string]string{"refs/heads/master": "zz", "refs/tags/v1.0": "cc"}, 1},
		{"named branches", RefPolicy{NamedBranches: true}, bm, "zz", map[string]string{
			"refs/heads/feature": "aa", "refs/heads/stable": "bb",
			"refs/heads/branches/default": "ee", "refs/heads/branches/release": "ff"}, 0},
		{"globs", RefPolicy{Tags: true, NamedBranches: true, Refs: []string{"refs/tags/*", "refs/heads/stable"}}, bm, "zz",
			map[string]string{"refs/heads/stable": "bb", "refs/tags/v1.0": "cc"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, warnings := tt.policy.hgRefs(tt.bookmarks, tags, heads, tt.tip)
			if !maps.Equal(got, tt.want) {
				t.Errorf("refs = %v, want %v", got, tt.want)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", warnings, tt.warnings)
			}
		})
	}
}

func TestGitRefs(t *testing.T) {
	t.Parallel()
	src := map[string]string{"refs/heads/main": "a", "refs/tags/v1": "b", "refs/pull/1/head": "c", "refs/heads/wip/x": "d"}
	got := RefPolicy{Tags: true, Refs: []string{"refs/heads/main", "refs/tags/*"}}.gitRefs(src)
	if want := map[string]string{"refs/heads/main": "a", "refs/tags/v1": "b"}; !maps.Equal(got, want) {
		t.Errorf("gitRefs = %v, want %v", got, want)
	}
	got = RefPolicy{}.gitRefs(src)
	if want := map[string]string{"refs/heads/main": "a", "refs/heads/wip/x": "d"}; !maps.Equal(got, want) {
		t.Errorf("gitRefs (no tags) = %v, want %v", got, want)
	}
}

func TestValidRefName(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string]bool{
		"refs/heads/master": true, "refs/heads/a/b": true, "refs/tags/v1.0": true, "refs/heads/é": true,
		"refs/heads": false, "refs/heads/": false, "refs/heads/a..b": false, "refs/heads/.x": false,
		"refs/heads/x.lock": false, "refs/heads/a b": false, "refs/heads/a~1": false, "refs/heads/a^": false,
		"refs/heads/a:b": false, "refs/heads/a?": false, "refs/heads/a*": false, "refs/heads/a[": false,
		"refs/heads/a\\b": false, "refs/heads/a@{1}": false, "refs/heads/@": false, "refs/heads/a.": false,
		"refs/heads//a": false, "heads/master": false, "refs/heads/a\x01": false,
	} {
		if got := validRefName(ref); got != want {
			t.Errorf("validRefName(%q) = %v, want %v", ref, got, want)
		}
	}
}
