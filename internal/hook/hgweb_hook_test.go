package hook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// TestHgwebHookExample installs examples/hgweb-hook.rc in a repository served
// by a real `hg serve`, pushes to it over HTTP, and checks that the curl
// commands reach the generic endpoint with the pushed node and that a
// hostile bookmark name arrives as data, not as shell code.
func TestHgwebHookExample(t *testing.T) {
	hgtest.Require(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is required (make deps-test installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	const token = "hgweb-test-token"

	events := make(chan *PushEvent, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := ParseGeneric(r, Config{Enabled: true, Secret: token})
		if err != nil {
			t.Errorf("endpoint: %v", err)
			http.Error(w, err.Error(), StatusOf(err))
			return
		}
		events <- ev
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	tokenFile := filepath.Join(dir, "hook-token.curlrc")
	if err := os.WriteFile(tokenFile, []byte(`header = "Authorization: Bearer `+token+`"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := os.ReadFile("../../examples/hgweb-hook.rc")
	if err != nil {
		t.Fatal(err)
	}
	hgrc := string(rc)
	for old, new := range map[string]string{
		"https://synchroniser.example.org/hooks/generic": srv.URL + "/hooks/generic",
		"/etc/synchroniser/hook-token.curlrc":            tokenFile,
		"--proto =https":                                 "--proto =http",
	} {
		if !strings.Contains(hgrc, old) {
			t.Fatalf("example lacks %q", old)
		}
		hgrc = strings.ReplaceAll(hgrc, old, new)
	}
	hgrc += "\n[web]\npush_ssl = false\nallow-push = *\n"

	hg := func(cwd string, args ...string) string {
		t.Helper()
		return hgtest.Run(t, cwd, args...)
	}
	serverRepo, clone := filepath.Join(dir, "srv"), filepath.Join(dir, "clone")
	hg(dir, "init", "--", serverRepo)
	if err := os.WriteFile(filepath.Join(serverRepo, ".hg", "hgrc"), []byte(hgrc), 0o600); err != nil {
		t.Fatal(err)
	}

	remote := hgtest.Serve(t, hgtest.Open(t, serverRepo)).URL

	hg(dir, "clone", "-q", "--", remote, clone)
	if err := os.WriteFile(filepath.Join(clone, "a"), []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hg(clone, "add", "-q", "--", "a")
	hg(clone, "commit", "-q", "-d", "1400000000 0", "-m", "first")
	node := strings.TrimSpace(hg(clone, "log", "-r", "tip", "-T", "{node}"))
	const hostile = `$(touch pwned);touch pwned2`
	hg(clone, "bookmark", "--", hostile)
	hg(clone, "push", "-q", "-B", hostile, "--", remote)

	var got []*PushEvent
	for len(got) < 2 {
		select {
		case ev := <-events:
			got = append(got, ev)
		case <-ctx.Done():
			t.Fatalf("got %d notifications, want 2 (changegroup and bookmark)", len(got))
		}
	}
	var sawChangegroup, sawBookmark bool
	for _, ev := range got {
		if ev.Repository != "team/repo" || ev.CloneURL != "https://hg.example.org/team/repo" || ev.SCM != "hg" || ev.Node != node {
			t.Errorf("event = %+v, want team/repo at %s", ev, node)
		}
		switch {
		case strings.HasPrefix(ev.DeliveryID, "TXN:"):
			sawChangegroup = true
		case len(ev.Refs) == 1 && ev.Refs[0] == hostile:
			sawBookmark = true
		default:
			t.Errorf("unexpected event %+v", ev)
		}
	}
	if !sawChangegroup || !sawBookmark {
		t.Errorf("changegroup %v, bookmark %v", sawChangegroup, sawBookmark)
	}
	for _, f := range []string{"pwned", "pwned2"} {
		for _, d := range []string{serverRepo, dir, clone} {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				t.Errorf("the bookmark name ran as a command: %s exists", filepath.Join(d, f))
			}
		}
	}
}
