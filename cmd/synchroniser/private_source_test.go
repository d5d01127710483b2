package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// TestServePrivateSource: configured mirrors of an hg serve behind a
// Basic-auth proxy, one with the right token, one with a wrong one. The
// wrong one fails as a request fault ("source refused our credentials",
// not retried); the right one mirrors; neither token shows in the logs,
// the history, the API or the page.
func TestServePrivateSource(t *testing.T) {
	t.Parallel()
	const right, wrong = "RIGHT-source-T0KEN-4242", "WRONG-source-T0KEN-1313"
	repo := hgtest.NewRepo(t)
	repo.Commit(hgtest.WithMessage("private"), hgtest.WithBookmark("main"), hgtest.WithFile("a", "private\n"))
	srv := hgtest.Serve(t, repo, hgtest.WithBasicAuth("alice", right))
	var destRoot string
	e := newE2E(t, "file", func(c *config.Config) {
		c.Seed.Enabled = false
		destRoot = strings.TrimPrefix(c.Seed.GitHost, "file://")
		c.Mirror = []config.MirrorConfig{
			{Name: "private", SCM: "hg", Source: srv.URL, SourceUser: "alice", SourceToken: right,
				Destination: config.DestinationConfig{URL: filepath.Join(destRoot, "private.git")}},
			{Name: "refused", SCM: "hg", Source: srv.URL, SourceUser: "alice", SourceToken: wrong,
				Destination: config.DestinationConfig{URL: filepath.Join(destRoot, "refused.git")}},
		}
	})
	gittest.BareAt(t, filepath.Join(destRoot, "private.git"))
	gittest.BareAt(t, filepath.Join(destRoot, "refused.git"))
	jobs := map[string]map[string]any{}
	for _, name := range []string{"private", "refused"} {
		status, body := e.do(http.MethodPost, "/api/mirrors/"+name+"/sync", "", nil, "Authorization: Bearer "+e2eAdmin)
		if status != 202 {
			t.Fatalf("sync %s: %d %v", name, status, body)
		}
		jobs[name] = e.waitJob(body["status_url"].(string))
	}
	if j := jobs["private"]; j["state"] != "succeeded" {
		t.Fatalf("private: %v\n%s", j, e.logs.String())
	}
	if gittest.Refs(t, filepath.Join(destRoot, "private.git"))["refs/heads/main"] == "" {
		t.Error("private: main not mirrored")
	}
	if j := jobs["refused"]; j["state"] != "failed" || j["class"] != "bad-request" || !strings.Contains(fmt.Sprint(j["error"]), "source refused our credentials") {
		t.Errorf("refused: %v", j)
	}
	for _, p := range []string{"/", "/api/mirrors", "/api/mirrors/private", "/api/mirrors/refused",
		fmt.Sprintf("/api/jobs/%v", jobs["private"]["id"]), fmt.Sprintf("/api/jobs/%v", jobs["refused"]["id"])} {
		if status, _ := e.do(http.MethodGet, p, "", nil); status != 200 {
			t.Errorf("GET %s: %d", p, status)
		}
	}
	e.seenMu.Lock()
	answers := e.seen.String()
	e.seenMu.Unlock()
	if !strings.Contains(answers, "refs/heads/main") || !strings.Contains(answers, "source refused our credentials") {
		t.Errorf("the API and page do not show the refs and the refusal:\n%.2000s", answers)
	}
	for _, tok := range []string{right, wrong} {
		if strings.Contains(e.logs.String(), tok) {
			t.Errorf("logs contain a source token")
		}
		if strings.Contains(answers, tok) {
			t.Errorf("the history, API or page contain a source token")
		}
	}
}
