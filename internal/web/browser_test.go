package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/synchroniser/synchroniser/internal/config"
)

const chromium = "/usr/bin/chromium"

// TestStatusPageBrowser drives the status page in headless Chromium: sign
// in with the admin token, press "Sync now", and see the queued job.
func TestStatusPageBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium is required for this test: %v", err)
	}
	e := newEnv(t, func(c *config.Config) {
		c.Mirror = []config.MirrorConfig{{Name: "click", SCM: "hg", Source: "https://hg.example.org/click",
			Destination: config.DestinationConfig{URL: "https://github.com/example/click.git", Forge: "github", Owner: "example", Project: "click"}}}
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	// The deadline bounds the whole browser (it is on the allocator).
	tctx, cancelT := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancelT()
	actx, cancelAlloc := chromedp.NewExecAllocator(tctx, opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %s: %v\nlogs:\n%s", what, err, e.logs.String())
		}
	}
	check("load", chromedp.Do(ctx,
		chromedp.Navigate(e.url("/")),
		chromedp.WaitVisible(chromedp.CSS("#mirrors")),
	))
	before, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	check("read page", err)
	check("wrong login", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#token"), "wrong"),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#login-failed")),
	))
	check("login and sync now", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#token"), adminToken),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS(`button.sync[data-mirror="click"]`)),
		chromedp.Click(chromedp.CSS(`button.sync[data-mirror="click"]`)),
		chromedp.WaitVisible(chromedp.CSS("#job-notice")),
	))
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#job-state")))
	check("job state", err)
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#job-notice")))
	check("job notice", err)
	page, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	check("page", err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	check("screenshot", err)
	if strings.Contains(before, "Sync now") {
		t.Error("the sync button is shown before signing in")
	}
	if state != JobQueued || !strings.Contains(notice, "click") {
		t.Errorf("job notice %q, state %q", notice, state)
	}
	if strings.Contains(page, adminToken) || strings.Contains(page, botToken) {
		t.Error("a secret is on the page")
	}
	out := filepath.Join(t.TempDir(), "status.png")
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(shot) < 1000 {
		t.Errorf("screenshot is %d bytes", len(shot))
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(shot))
	if dir := os.Getenv("SYNCHRONISER_SCREENSHOTS"); dir != "" { // keep it for a human to look at
		if err := os.WriteFile(filepath.Join(dir, "status.png"), shot, 0o644); err != nil {
			t.Error(err)
		}
	}
	// The job is in the queue for real.
	if n, err := e.srv.queue.Depth(context.Background()); err != nil || n != 1 {
		t.Errorf("queue depth %d, %v; want 1", n, err)
	}
}
