package mirror

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"testing"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/hg"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	// The kinds are hg's reading of these messages (hg's TestKindOf).
	hgErr := func(kind hg.Kind, stderr string) error {
		return &hg.Error{Args: []string{"pull", "--", "https://hg.example.org/not-found/timeout"}, Err: errors.New("exit status 255"), Stderr: stderr, ExitCode: 255, Kind: kind}
	}
	gitErr := func(kind error, stderr string) error {
		return &git.Error{Op: "push", Remote: "https://example.org/x.git", ExitCode: 128, Kind: kind, Stderr: stderr}
	}
	tests := []struct {
		name string
		side side
		err  error
		want Class
	}{
		{"hg not installed", sourceSide, &hg.Error{Err: fmt.Errorf("%w (%w)", hg.ErrNotInstalled, exec.ErrNotFound)}, Internal},
		{"hg auth", sourceSide, hgErr(hg.KindAuth, "abort: http authorization required for https://hg.example.org/r"), BadRequest},
		{"hg 403", sourceSide, hgErr(hg.KindAuth, "abort: HTTP Error 403: Forbidden"), BadRequest},
		{"hg 404", sourceSide, hgErr(hg.KindNotFound, "abort: HTTP Error 404: Not Found"), BadRequest},
		{"hg 500", sourceSide, hgErr(hg.KindNetwork, "abort: HTTP Error 500: Internal Server Error"), Transient},
		{"hg dns", sourceSide, hgErr(hg.KindNetwork, "abort: error: Name or service not known"), Transient},
		{"hg refused", sourceSide, hgErr(hg.KindNetwork, "abort: error: Connection refused"), Transient},
		{"hg not a repository page", sourceSide, hgErr(hg.KindNotFound, "abort: 'https://x/' does not appear to be an hg repository:\n---%<--- (text/html)\n<p>timeout</p>\n---%<---"), BadRequest},
		{"hg local missing", sourceSide, hgErr(hg.KindNotFound, "abort: repository /srv/nope not found"), BadRequest},
		{"hg unknown", sourceSide, hgErr(hg.KindOther, "abort: something odd"), Internal},
		{"git auth", destSide, gitErr(git.ErrAuth, "fatal: Authentication failed"), Permanent},
		{"git not found", destSide, gitErr(git.ErrNotFound, "fatal: repository 'x' not found"), BadRequest},
		{"git network", destSide, gitErr(git.ErrNetwork, "fatal: unable to access: Could not resolve host"), Transient},
		{"git remote rejected", destSide, gitErr(git.ErrRemoteRejected, "! [remote rejected] master (protected branch)"), Permanent},
		{"git non-fast-forward race", destSide, gitErr(git.ErrNonFastForward, "! [rejected] master (fetch first)"), Transient},
		{"git remote not allowed", destSide, gitErr(git.ErrRemoteNotAllowed, ""), BadRequest},
		{"git unclassified", destSide, gitErr(nil, "fatal: the remote said something new"), Permanent},
		{"deadline", destSide, fmt.Errorf("x: %w", context.DeadlineExceeded), Transient},
		{"already classified", destSide, &Error{Class: BadRequest, Err: errors.New("x")}, BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := classify("op", tt.side, tt.err)
			if got := ClassOf(err); got != tt.want {
				t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("classify lost the cause: %v", err)
			}
		})
	}
	if classify("op", sourceSide, nil) != nil {
		t.Error("classify(nil) != nil")
	}
}

func TestCacheCorrupt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind   hg.Kind
		stderr string
		want   bool
	}{
		{hg.KindCorrupt, "abort: abandoned transaction found!", true},
		{hg.KindCorrupt, "abort: 00changelog@abc: no match found", true},
		{hg.KindCorrupt, "abort: integrity check failed on data/a.i:0", true},
		{hg.KindUnsupported, "abort: repository requires features unknown to this Mercurial: foo", true},
		{hg.KindNetwork, "abort: error: Connection refused", false},
		{hg.KindNotFound, "abort: repository https://x/ not found", false},
	} {
		if got := cacheCorrupt(&hg.Error{Err: errors.New("exit status 255"), Stderr: tc.stderr, Kind: tc.kind}); got != tc.want {
			t.Errorf("cacheCorrupt(%q) = %v, want %v", tc.stderr, got, tc.want)
		}
	}
	if cacheCorrupt(errors.New("abandoned transaction found")) {
		t.Error("cacheCorrupt of a non-hg error")
	}
}
