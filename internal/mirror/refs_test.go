package mirror

import (
	"testing"
)

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
