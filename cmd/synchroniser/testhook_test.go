package main

import (
	"log/slog"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/mirror"
)

// TestPhaseOf: the test pause hook recognises the command records of hg
// clone and pull and of git ls-remote and push, the native transport's
// records of its clone and pull, and nothing else.
func TestPhaseOf(t *testing.T) {
	rec := func(msg string, attrs ...slog.Attr) slog.Record {
		r := slog.NewRecord(time.Now(), slog.LevelDebug, msg, 0)
		r.AddAttrs(attrs...)
		return r
	}
	hg := func(args ...string) slog.Record {
		return rec("command", slog.String("program", "/usr/bin/hg"),
			slog.Any("args", append([]string{"--noninteractive", "--config", "ui.interactive=false"}, args...)))
	}
	git := func(op string) slog.Record {
		return rec("command", slog.String("program", "git"), slog.Any("args", []string{"-c", "x=y", op}), slog.String("op", op))
	}
	for _, tc := range []struct {
		r    slog.Record
		want string
	}{
		{hg("clone", "--noupdate", "--", "http://h/r", "/c/hg.partial"), "clone"},
		{hg("pull", "--repository", "/c/hg", "--", "http://h/r"), "pull"},
		{hg("recover", "--repository", "/c/hg"), ""},
		{git("ls-remote"), "push"},
		{git("push"), "pushed"},
		{git("seed"), "pushed"},
		{git("update-ref"), ""},
		{git("fetch"), ""},
		{rec("sync started", slog.String("op", "push")), ""},
		{rec(mirror.MsgClonePartial, slog.String("partial", "/c/hg.partial")), "clone"},
		{rec(mirror.MsgCachePulled, slog.String("transport", "native")), "pull"},
		{rec("hg cache cloned", slog.String("transport", "native")), ""},
	} {
		if got := phaseOf(tc.r); got != tc.want {
			t.Errorf("phaseOf(%s %v) = %q, want %q", tc.r.Message, tc.r, got, tc.want)
		}
	}
}
