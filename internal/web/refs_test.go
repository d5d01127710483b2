package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/mirror"
	"github.com/synchroniser/synchroniser/internal/store"
)

// TestRefsAPIAndPage: the API and the page show each ref's origin, Git
// value and state as the latest sync saved them, and the latest run's
// warnings (head-unexported).
func TestRefsAPIAndPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.Mirror = []config.MirrorConfig{{Name: "m", SCM: "hg", Source: "http://127.0.0.1:1/m", Destination: config.DestinationConfig{URL: "/x.git"}}}
	})
	ctx := context.Background()
	h := func(c byte) git.Hash {
		var x git.Hash
		for i := range x {
			x[i] = c
		}
		return x
	}
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	refs := []mirror.RefStatus{
		{Ref: "refs/heads/main", Origin: mirror.OriginBookmark, Name: "main", Git: h(0xaa), State: mirror.RefRewritten, Old: h(0xbb), At: at, RewrittenFrom: h(0xbb)},
		{Ref: "refs/heads/other", Origin: mirror.OriginBookmark, Name: "other", Git: h(0xcc), State: mirror.RefDiverged, Refused: h(0xdd), Detail: "no marker"},
		{Ref: "refs/heads/topic/default/t", Origin: mirror.OriginTopic, Name: "default/t", State: mirror.RefWaiting},
		{Ref: "refs/heads/a b", Origin: mirror.OriginBookmark, Name: "a b", State: mirror.RefBadName},
		{Ref: "refs/heads/s", Origin: mirror.OriginBookmark, Name: "s", State: mirror.RefSecret},
		{Ref: "refs/tags/v1", Origin: mirror.OriginTag, Name: "v1", Git: h(0xee), State: mirror.RefUpToDate},
	}
	if err := (mirror.DBRefs{Store: e.store}).SaveRefs(ctx, "m", nil, refs); err != nil {
		t.Fatal(err)
	}
	id, err := e.store.StartRun(ctx, store.Run{Mirror: "m", TriggerKind: store.TriggerPoll})
	if err != nil {
		t.Fatal(err)
	}
	warning := "head-unexported: " + strings.Repeat("1", 40) + " default: head 111111111111 on branch default is not exported"
	if err := e.store.FinishRun(ctx, id, store.Finish{Outcome: store.OutcomeFailed, Error: "push: destination diverged: refused refs/heads/other",
		RefsUpdated: []string{"refs/heads/main bbbbbbbbbbbb..aaaaaaaaaaaa (rewritten)"}, Warnings: []string{warning}, Lag: -1}); err != nil {
		t.Fatal(err)
	}
	status, body := get(t, e.client, e.url("/api/mirrors/m"))
	if status != 200 {
		t.Fatalf("GET /api/mirrors/m: %d %v", status, body)
	}
	mi := body["mirror"].(map[string]any)
	got := mi["refs"].([]any)
	if len(got) != len(refs) {
		t.Fatalf("refs = %v", got)
	}
	want := map[string]string{
		"refs/heads/main":            "rewritten rewritten at 2026-12-02T05:00:00Z from bbbbbbbbbbbb",
		"refs/heads/other":           "refused: diverged",
		"refs/heads/topic/default/t": "waiting: draft",
		"refs/heads/a b":             "not exported: invalid name",
		"refs/heads/s":               "not exported: secret",
		"refs/tags/v1":               "up to date",
	}
	for _, r := range got {
		r := r.(map[string]any)
		if want[r["ref"].(string)] != r["status"] {
			t.Errorf("%s: status %q, want %q", r["ref"], r["status"], want[r["ref"].(string)])
		}
	}
	main := got[0].(map[string]any)
	if main["origin"] != "bookmark" || main["git"] != strings.Repeat("aa", 20) || main["state"] != "rewritten" || main["rewritten_from"] != strings.Repeat("bb", 20) {
		t.Errorf("main = %v", main)
	}
	if fmt.Sprint(mi["refused"]) != "[refs/heads/other]" || fmt.Sprint(mi["warnings"]) != "["+warning+"]" {
		t.Errorf("refused %v, warnings %v", mi["refused"], mi["warnings"])
	}
	runs := body["runs"].([]any)
	if r := runs[0].(map[string]any); fmt.Sprint(r["refs"]) != "[refs/heads/main bbbbbbbbbbbb..aaaaaaaaaaaa (rewritten)]" {
		t.Errorf("run refs = %v", r["refs"])
	}

	_, page := e.page(t, "/")
	for _, s := range []string{`id="refs-m"`, "refs/heads/topic/default/t", "topic", "aaaaaaaaaaaa", "refused: diverged", "no marker",
		"rewritten at 2026-12-02T05:00:00Z from bbbbbbbbbbbb", "waiting: draft", "not exported: invalid name", "not exported: secret", "head 111111111111 on branch default is not exported"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}
