package main

import (
	"errors"
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseMirrorFlags(t *testing.T) {
	t.Setenv("SYNC_TEST_TOKEN", "s3cret")
	f, err := parseMirrorFlags([]string{"--scm", "git", "src", "--ref", "refs/heads/*", "dest.git",
		"--ref", "refs/tags/*", "--no-tags", "--ssh-key", "key", "--token-env", "SYNC_TEST_TOKEN", "--timeout", "1m"})
	if err != nil {
		t.Fatal(err)
	}
	if f.source != "src" || f.dest != "dest.git" || f.scm != "git" || !f.noTags || f.timeout != time.Minute {
		t.Errorf("parsed %+v", f)
	}
	if !slices.Equal(f.refs, []string{"refs/heads/*", "refs/tags/*"}) {
		t.Errorf("refs %v", f.refs)
	}
	if f.token != "s3cret" {
		t.Errorf("token %q, want the variable's value", f.token)
	}
	if !filepath.IsAbs(f.sshKey) || filepath.Base(f.sshKey) != "key" {
		t.Errorf("ssh key %q not made absolute", f.sshKey)
	}
	if f.tipBranch != "master" || f.converter != "native" || f.timeout <= 0 {
		t.Errorf("defaults: %+v", f)
	}

	if _, err := parseMirrorFlags([]string{"src", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	t.Setenv("SYNC_TEST_EMPTY", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "want SOURCE and DEST, have 0 operand(s)"},
		{[]string{"a", "b", "c"}, "have 3 operand(s)"},
		{[]string{"", "b"}, "must not be empty"},
		{[]string{"--scm", "svn", "a", "b"}, `--scm "svn": want hg or git`},
		{[]string{"--name", "a/b", "a", "b"}, `--name "a/b"`},
		{[]string{"--timeout", "0s", "a", "b"}, "--timeout must be positive"},
		{[]string{"--converter", "x", "a", "b"}, `--converter "x": want native or hg-git`},
		{[]string{"--token-env", "SYNC_TEST_EMPTY", "a", "b"}, "environment variable SYNC_TEST_EMPTY is empty"},
		{[]string{"--bogus", "a", "b"}, "flag provided but not defined: -bogus"},
	} {
		_, err := parseMirrorFlags(tc.args)
		var usage *mirrorUsageError
		if !errors.As(err, &usage) || !strings.Contains(usage.msg, tc.want) {
			t.Errorf("%q: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestMirrorExit(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if code := mirrorExit(&b, nil); code != 0 || b.Len() != 0 {
		t.Errorf("nil: %d %q", code, b.String())
	}
	if code := mirrorExit(&b, mirrorUsageErr("bad %s", "flag")); code != 2 ||
		b.String() != "synchroniser: mirror: bad flag\nusage: synchroniser mirror [flags] SOURCE DEST (see synchroniser mirror -h)\n" {
		t.Errorf("usage error: %d %q", code, b.String())
	}
	b.Reset()
	if code := mirrorExit(&b, errors.New("push failed\nremote: denied")); code != 1 || b.String() != "synchroniser: push failed; remote: denied\n" {
		t.Errorf("failure: %d %q", code, b.String())
	}
}
