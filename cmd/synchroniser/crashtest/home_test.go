package crashtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/store"
	"github.com/synchroniser/synchroniser/internal/store/storetest"
)

// TestHomeWorkers: three worker processes with their own cache directories
// share one PostgreSQL database and 12 mirrors. Through several rounds of
// webhooks each mirror is synced by one worker only, so its cache exists in
// exactly one directory, and the API and the status page name that worker.
// When one worker is killed, its mirrors move to the others (one clone
// each, reported in the run) and the other mirrors stay where they were.
func TestHomeWorkers(t *testing.T) {
	t.Parallel()
	db := storetest.NewDatabase(t)
	root := t.TempDir()
	const nMirrors = 12
	var mirrors []mirrorSpec
	srcs := map[string]*hgtest.Repo{}
	count := map[string]int{}
	var names []string
	for i := range nMirrors {
		name := fmt.Sprintf("m%02d", i)
		r := hgtest.InitAt(t, filepath.Join(root, name, "src"))
		r.Write("README", name+"\n")
		r.Commit()
		srcs[name], count[name] = r, 1
		names = append(names, name)
	}
	urls := serveMany(t, root, names)
	for _, name := range names {
		mirrors = append(mirrors, mirrorSpec{Name: name, Source: urls[name],
			Dest: gittest.BareAt(t, filepath.Join(root, name, "dest.git"))})
	}
	cfg := writeConfig(t, settings{DataDir: t.TempDir(), Database: db, Mirrors: mirrors})
	web := start(t, "serve", nil, "serve", "--config", cfg, "--no-workers")
	ids := []string{"worker-1", "worker-2", "worker-3"}
	dirs := map[string]string{}
	procs := map[string]*proc{}
	for _, id := range ids {
		dirs[id] = t.TempDir()
		procs[id] = start(t, id, nil, "worker", "--config", cfg, "--id", id, "--data-dir", dirs[id])
	}
	time.Sleep(time.Second) // the hook side's view of the live workers is at most 1 s old

	round := func(r int) {
		t.Helper()
		for _, m := range mirrors {
			if r > 0 {
				srcs[m.Name].Write("README", fmt.Sprintf("%s round %d\n", m.Name, r))
				srcs[m.Name].Commit()
				count[m.Name]++
			}
			mustHook(t, web.addr, m, fmt.Sprintf("%s-%d", m.Name, r))
		}
		all := []*proc{web}
		for _, p := range procs {
			all = append(all, p)
		}
		for _, m := range mirrors {
			waitCommits(t, m.Dest, count[m.Name], time.Minute, all...)
		}
	}
	// cacheOwners lists, per mirror, the workers whose directory has its cache.
	cacheOwners := func() map[string][]string {
		out := map[string][]string{}
		for _, id := range ids {
			for _, m := range mirrors {
				if _, err := os.Stat(filepath.Join(dirs[id], "cache", m.Name, "hg", ".hg")); err == nil {
					out[m.Name] = append(out[m.Name], id)
				}
			}
		}
		return out
	}

	for r := range 2 {
		round(r)
	}
	home := map[string]string{}
	perWorker := map[string]int{}
	for m, owners := range cacheOwners() {
		if len(owners) != 1 {
			t.Errorf("%s: cache in %d directories %v, want exactly one", m, len(owners), owners)
			continue
		}
		home[m] = owners[0]
		perWorker[owners[0]]++
	}
	if len(home) != nMirrors {
		t.Fatalf("homes of %d mirrors known, want %d: %v", len(home), nMirrors, home)
	}
	t.Logf("mirrors per worker: %v", perWorker)

	// The API and the page name each mirror's worker.
	var list struct {
		Mirrors []struct {
			Name   string `json:"name"`
			Worker string `json:"worker"`
		} `json:"mirrors"`
	}
	getJSON(t, web.addr+"/api/mirrors", &list)
	for _, mi := range list.Mirrors {
		if mi.Worker != home[mi.Name] {
			t.Errorf("API: %s worker %q, its cache is at %q", mi.Name, mi.Worker, home[mi.Name])
		}
	}
	page := string(get(t, web.addr+"/"))
	for m, w := range home {
		if !strings.Contains(page, `title="home worker">`+w+`</span>`) || !strings.Contains(page, `id="mirror-`+m+`"`) {
			t.Errorf("status page does not show %s's worker %s", m, w)
		}
	}

	// Kill the busiest worker: its mirrors move, the others stay.
	victim := ids[0]
	for _, id := range ids {
		if perWorker[id] > perWorker[victim] {
			victim = id
		}
	}
	if perWorker[victim] == 0 {
		t.Fatal("no worker has a mirror")
	}
	procs[victim].Kill()
	delete(procs, victim)
	killed := time.Now()
	round(2)
	t.Logf("killed %s (%d mirrors): all mirrors synced %v after the kill", victim, perWorker[victim], time.Since(killed).Round(time.Millisecond))

	owners := cacheOwners()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Driver: store.Postgres, URL: db})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, m := range mirrors {
		// The destination is updated before the run is recorded.
		var last *store.Run
		for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if last, err = st.LastRun(ctx, m.Name); err != nil {
				t.Fatal(err)
			}
			if !last.Finished.IsZero() || time.Now().After(end) {
				break
			}
		}
		if home[m.Name] != victim {
			if len(owners[m.Name]) != 1 || owners[m.Name][0] != home[m.Name] || last.Worker != home[m.Name] {
				t.Errorf("%s (home %s) moved: caches %v, last run by %s", m.Name, home[m.Name], owners[m.Name], last.Worker)
			}
			continue
		}
		// Moved: the stale cache stays in the dead worker's directory, one
		// new cache exists on one survivor, and the run reports the move.
		var survivors []string
		for _, o := range owners[m.Name] {
			if o != victim {
				survivors = append(survivors, o)
			}
		}
		if len(survivors) != 1 || last.Worker != survivors[0] {
			t.Errorf("%s (home %s, killed): caches %v, last run by %s; want one new cache where it ran", m.Name, victim, owners[m.Name], last.Worker)
		}
		runs, err := st.Runs(ctx, m.Name, 100)
		if err != nil {
			t.Fatal(err)
		}
		moved := false
		for _, r := range runs {
			for _, w := range r.Warnings {
				moved = moved || r.Worker == last.Worker && strings.Contains(w, "moved from worker "+victim)
			}
		}
		if !moved {
			t.Errorf("%s: no run reports its move from %s", m.Name, victim)
		}
	}
	for _, p := range procs {
		p.term(30 * time.Second)
	}
	web.term(30 * time.Second)
}

// serveMany serves root/<name>/src for each name, each with its own hg
// serve on 127.0.0.1 (started at once), and returns name → URL. (One hgweb
// serving many repositories, hg serve --web-conf, answers concurrent clones
// with 500s and broken responses in hg 6.3.)
func serveMany(t *testing.T, root string, names []string) map[string]string {
	t.Helper()
	urls := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr, stop, err := hgtest.StartServe(filepath.Join(root, n, "src"), hgtest.Env())
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			urls[n] = "http://" + addr + "/"
			mu.Unlock()
			t.Cleanup(stop)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return urls
}
