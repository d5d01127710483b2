package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/synchroniser/synchroniser/internal/config"
	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/mirror"
)

// TestAPIAdopt adopts an hg-git repository imported from Git through the
// admin API, refuses a corrupt map, and shows the conversion settings on
// the API and the status page.
func TestAPIAdopt(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	work := filepath.Join(tmp, "work")
	gittest.Run(t, "", "init", "-q", "-b", "master", "--", work)
	os.WriteFile(filepath.Join(work, "a"), []byte("a\n"), 0o644)
	gittest.Run(t, work, "add", "a")
	gittest.Run(t, work, "commit", "-q", "-m", "first")
	dest := gittest.Bare(t)
	gittest.Run(t, work, "push", "-q", "--", dest, "master")
	hgRepo := filepath.Join(tmp, "hg")
	hgtest.Run(t, "", "--config", "extensions.hggit=", "clone", "-q", "-U", "--", dest, hgRepo)
	broken := filepath.Join(tmp, "broken")
	hgtest.Run(t, "", "clone", "-q", "-U", "--", hgRepo, broken)
	os.MkdirAll(filepath.Join(broken, ".hg", "git", "objects"), 0o755)
	os.WriteFile(convert.MapPath(broken), []byte("not a map\n"), 0o644)
	authors := filepath.Join(tmp, "authors")
	os.WriteFile(authors, []byte("a = A <a@example.com>\n"), 0o644)

	e := newEnv(t, func(c *config.Config) {
		c.Source.AllowFile = true
		c.Mirror = []config.MirrorConfig{{Name: "m", SCM: "hg", Source: hgRepo, Destination: config.DestinationConfig{URL: dest},
			ConvertConfig: config.ConvertConfig{AuthorsFile: authors, BranchBookmarkSuffix: "_bm"}}}
	})
	e.srv.adopter = &mirror.Syncer{CacheDir: e.cfg.CacheDir(), Hg: &hg.Runner{}, Git: &git.Runner{}, AllowFile: true}
	auth := "Authorization: Bearer " + adminToken

	status, body := post(t, e.client, e.url("/api/mirrors/m/adopt"), "application/json", []byte(`{"from":"`+hgRepo+`"}`))
	wantJSON(t, "no token", status, body, 403, "error", "cross-origin")
	status, body = post(t, e.client, e.url("/api/mirrors/m/adopt"), "application/json", []byte(`{"from":"relative/path"}`), auth)
	wantJSON(t, "relative path", status, body, 400, "error", "absolute path")
	status, body = post(t, e.client, e.url("/api/mirrors/m/adopt"), "application/json", []byte(`{"from":"/a","map":"/b"}`), auth)
	wantJSON(t, "both", status, body, 400, "error", "give one of")
	status, body = post(t, e.client, e.url("/api/mirrors/nope/adopt"), "application/json", []byte(`{"from":"/a"}`), auth)
	wantJSON(t, "unknown mirror", status, body, 404, "error", "no mirror")
	status, body = post(t, e.client, e.url("/api/mirrors/m/adopt"), "application/json", []byte(`{"from":"`+broken+`"}`), auth)
	wantJSON(t, "corrupt map", status, body, 400, "error", "corrupt or truncated")
	if _, err := os.Stat(filepath.Join(e.cfg.CacheDir(), "m", "hg")); !os.IsNotExist(err) {
		t.Errorf("a refused adoption made the cache: %v", err)
	}

	status, body = post(t, e.client, e.url("/api/mirrors/m/adopt"), "application/json", []byte(`{"from":"`+hgRepo+`"}`), auth)
	if status != 200 || body["mapped"] != float64(1) {
		t.Fatalf("adopt: %d %v", status, body)
	}

	status, body = get(t, e.client, e.url("/api/mirrors/m"))
	mi, _ := body["mirror"].(map[string]any)
	conv, _ := mi["conversion"].(map[string]any)
	if status != 200 || conv["adopted_from"] != hgRepo || conv["hggit"] != "1.0" || conv["branch_bookmark_suffix"] != "_bm" ||
		!strings.HasPrefix(conv["authors_hash"].(string), "sha256:") || conv["adopted_commits"] != float64(1) || conv["adopted_at"] == nil {
		t.Errorf("GET /api/mirrors/m conversion: %d %v", status, conv)
	}

	_, page := e.page(t, "/")
	for _, want := range []string{`id="conversion-m"`, "<code>" + hgRepo + "</code>", "<code>_bm</code>", "(1 commits)"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %s", want)
		}
	}
}
