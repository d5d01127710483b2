package scm

import "testing"

func TestValid(t *testing.T) {
	for k, want := range map[Kind]bool{Hg: true, Git: true, "": false, "svn": false, "HG": false} {
		if got := k.Valid(); got != want {
			t.Errorf("Kind(%q).Valid() = %v, want %v", k, got, want)
		}
	}
}
