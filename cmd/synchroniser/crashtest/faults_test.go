package crashtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/store"
)

// TestFaultDestinationGone: the destination disappears while the sync is
// about to push. The run fails with a classified error, the destination is
// untouched, and once the destination is back the next push catches up
// using the cache (no clone again).
func TestFaultDestinationGone(t *testing.T) {
	t.Parallel()
	const n = 40
	_, srv := newSource(t, n)
	o := newSingle(t, srv.URL, settings{})
	dest, m := o.dest, o.m
	p := o.startPaused(t, "push", "SYNCHRONISER_TEST_PAUSE_FOR=1s")
	gone := dest + ".gone"
	if err := os.Rename(dest, gone); err != nil {
		t.Fatal(err)
	}
	p.waitLog(`msg="sync failed`, 30*time.Second)
	runs := history(t, o.db(), "m")
	if len(runs) == 0 || runs[0].Outcome == store.OutcomeSuccess || !strings.Contains(runs[0].Error, "push") {
		t.Fatalf("runs = %+v, want a failed push", runs)
	}
	t.Logf("destination gone: %s: %s", runs[0].Outcome, runs[0].Error)
	if err := os.Rename(gone, dest); err != nil {
		t.Fatal(err)
	}
	if got := commits(dest); got != -1 {
		t.Fatalf("the destination changed: %d commits", got)
	}
	mustHook(t, p.addr, m, "d-2")
	waitCommits(t, dest, n, 30*time.Second, p)
	p.term(30 * time.Second)
	if strings.Count(p.log.String(), "hg cache cloned") != 1 {
		t.Errorf("the cache was cloned again after the failed push")
	}
}

// TestFaultSourceDiesMidClone: the source's connection breaks in the
// middle of the first clone. The run fails with a transient error and is
// retried with backoff; the retry completes the mirror and no half-made
// clone is left in the cache.
func TestFaultSourceDiesMidClone(t *testing.T) {
	t.Parallel()
	const n = 80
	_, srv := newSource(t, n)
	var cut atomic.Int32
	front := hgtest.Proxy(t, srv.Base, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Query().Get("cmd") == "getbundle" && cut.Add(1) == 1 {
			// The source dies after 1 KiB of the bundle.
			next.ServeHTTP(&cutWriter{ResponseWriter: w, left: 1024}, r)
			return
		}
		next.ServeHTTP(w, r)
	})
	o := newSingle(t, front+strings.TrimPrefix(srv.URL, srv.Base), settings{})
	dest, data, m, cfg := o.dest, o.data, o.m, o.cfg
	p := start(t, "serve", nil, "serve", "--config", cfg)
	mustHook(t, p.addr, m, "d-1")
	waitCommits(t, dest, n, 30*time.Second, p)
	p.waitLog("sync done", 30*time.Second)
	p.term(30 * time.Second)
	if cut.Load() < 2 {
		t.Fatalf("the clone was not cut and retried (getbundle requests: %d)", cut.Load())
	}
	runs := history(t, o.db(), "m")
	if len(runs) < 2 || runs[0].Outcome != store.OutcomeSuccess || runs[len(runs)-1].Outcome != store.OutcomeRetry {
		t.Fatalf("runs = %+v, want a transient failure, retried to success", runs)
	}
	t.Logf("source died mid-clone: %s: %s", runs[len(runs)-1].Outcome, runs[len(runs)-1].Error)
	if _, err := os.Stat(filepath.Join(data, "cache", "m", "hg.partial")); err == nil {
		t.Error("a half-made clone is left in the cache")
	}
}

// cutWriter passes left bytes of a response on, then breaks the connection.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		c.ResponseWriter.Write(p[:c.left]) //nolint:errcheck // breaking anyway
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // closes the connection mid-body
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}

func (c *cutWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestFaultDiskFull: a worker's data dir is a small tmpfs that fills up
// during the conversion. The sync fails with a classified error and the
// cache stays usable: once there is room again, the next push catches up.
func TestFaultDiskFull(t *testing.T) {
	t.Parallel()
	// A source of incompressible files: about 1.5 MB to clone and again
	// to convert.
	src := hgtest.NewRepo(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 12 {
		b := make([]byte, 128<<10)
		for j := range b {
			b[j] = byte(rnd.UintN(256))
		}
		src.Write(fmt.Sprintf("blob-%02d.bin", i), string(b))
		src.Commit()
	}
	srv := hgtest.Serve(t, src)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2500k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() }) //nolint:errcheck // best effort
	o := newSingle(t, srv.URL, settings{})
	dest, m, cfg := o.dest, o.m, o.cfg
	// The hook side keeps the database; the worker's cache is on the tmpfs.
	web := start(t, "serve", nil, "serve", "--config", cfg, "--no-workers")
	w := start(t, "worker", nil, "worker", "--config", cfg, "--id", "small-disk", "--data-dir", mnt)
	mustHook(t, web.addr, m, "d-1")
	w.waitLog(`msg="sync failed`, time.Minute)
	runs := history(t, o.db(), "m")
	if len(runs) == 0 || runs[len(runs)-1].Outcome == store.OutcomeSuccess {
		t.Fatalf("runs = %+v, want a failure", runs)
	}
	first := runs[len(runs)-1]
	t.Logf("disk full: %s: %s", first.Outcome, first.Error)
	if !strings.Contains(strings.ToLower(first.Error), "no space") {
		t.Errorf("the error does not say the disk is full: %q", first.Error)
	}
	// The failed conversion took its temporary pack away: the room it had
	// is free again.
	if left, _ := filepath.Glob(filepath.Join(mnt, "cache", "m", "hg", ".hg", "git", "objects", "pack", "tmp_*")); len(left) > 0 {
		t.Errorf("temporary pack files left on the full disk: %v", left)
	}
	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	mustHook(t, web.addr, m, "d-2")
	waitCommits(t, dest, 12, time.Minute, web, w)
	w.term(30 * time.Second)
	web.term(30 * time.Second)
	gittest.Run(t, "", "--git-dir="+dest, "fsck", "--no-progress", "--strict")
}

// pgCluster is a throwaway PostgreSQL server of the test's own (never the
// shared one), so that it can be stopped and started.
type pgCluster struct {
	dir  string
	port int
	ctl  string
}

// asPostgres runs a PostgreSQL program as the postgres user.
func asPostgres(args ...string) error {
	out, err := exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func newCluster(t *testing.T) *pgCluster {
	t.Helper()
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		t.Fatal("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are required: make deps-test")
	}
	bin := filepath.Dir(found[len(found)-1])
	dir, err := os.MkdirTemp("", "crashtest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	c := &pgCluster{dir: filepath.Join(dir, "data"), port: port, ctl: filepath.Join(bin, "pg_ctl")}
	if os.Geteuid() != 0 {
		t.Fatal("the database restart test runs PostgreSQL as the postgres user: run as root")
	}
	if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	if err := asPostgres(filepath.Join(bin, "initdb"), "-D", c.dir, "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	c.start(t)
	t.Cleanup(func() { c.ctlErr("stop", "-m", "immediate") }) //nolint:errcheck // may be stopped
	return c
}

func (c *pgCluster) ctlErr(args ...string) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, filepath.Dir(c.dir))
	return asPostgres(append([]string{c.ctl, "-D", c.dir, "-o", opts, "-w", "-l", filepath.Join(filepath.Dir(c.dir), "log")}, args...)...)
}

func (c *pgCluster) pgctl(t *testing.T, args ...string) {
	t.Helper()
	if err := c.ctlErr(args...); err != nil {
		t.Fatal(err)
	}
}

func (c *pgCluster) start(t *testing.T) { c.pgctl(t, "start") }

// URL is the cluster's postgres database.
func (c *pgCluster) URL() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(c.port) + "/postgres?sslmode=disable"
}

// TestFaultDatabaseRestart: PostgreSQL is stopped and started during a
// burst of webhooks. Webhooks that arrive while it is down are refused
// (not answered 202), and every webhook answered 202 leads to a sync: a
// successful run of its mirror that started after it was accepted.
func TestFaultDatabaseRestart(t *testing.T) {
	t.Parallel()
	pg := newCluster(t)
	root := t.TempDir()
	names := []string{"a", "b", "c", "d"}
	for _, name := range names {
		r := hgtest.InitAt(t, filepath.Join(root, name, "src"))
		r.Write("README", name+"\n")
		r.Commit()
	}
	urls := serveMany(t, root, names)
	var mirrors []mirrorSpec
	for _, name := range names {
		mirrors = append(mirrors, mirrorSpec{Name: name, Source: urls[name],
			Dest: gittest.BareAt(t, filepath.Join(root, name, "dest.git"))})
	}
	cfg := writeConfig(t, settings{DataDir: t.TempDir(), Database: pg.URL(), Mirrors: mirrors})
	web := start(t, "serve", nil, "serve", "--config", cfg, "--no-workers")
	w := start(t, "worker", nil, "worker", "--config", cfg, "--id", "worker-1", "--data-dir", t.TempDir())

	type accepted struct {
		mirror string
		at     time.Time
	}
	var (
		mu       sync.Mutex
		ok       []accepted
		refused  atomic.Int32
		wg       sync.WaitGroup
		deadline = time.Now().Add(6 * time.Second)
	)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				m := mirrors[(g+i)%len(mirrors)]
				at := time.Now()
				status, _ := hook(t, web.addr, m, fmt.Sprintf("g%d-%d", g, i))
				if status == http.StatusAccepted {
					mu.Lock()
					ok = append(ok, accepted{m.Name, at})
					mu.Unlock()
				} else {
					refused.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	pg.pgctl(t, "stop", "-m", "fast")
	time.Sleep(1500 * time.Millisecond)
	pg.start(t)
	wg.Wait()
	t.Logf("webhooks: %d accepted, %d refused while the database was down", len(ok), refused.Load())
	if refused.Load() == 0 {
		t.Errorf("no webhook was refused: the database was not down")
	}
	// Every accepted webhook leads to a sync that started after it.
	last := map[string]time.Time{}
	for _, a := range ok {
		if a.at.After(last[a.mirror]) {
			last[a.mirror] = a.at
		}
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Driver: store.Postgres, URL: pg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, at := range last {
		end := time.Now().Add(60 * time.Second)
		for {
			runs, err := st.Runs(ctx, name, 1000)
			if err != nil {
				t.Fatal(err)
			}
			synced := false
			for _, r := range runs {
				synced = synced || r.Outcome == store.OutcomeSuccess && !r.Started.Before(at)
			}
			if synced {
				break
			}
			if time.Now().After(end) {
				t.Logf("log of worker:\n%s", w.tail(80))
				t.Fatalf("%s: the webhook accepted at %v never led to a sync (runs: %d)", name, at.Format(time.StampMicro), len(runs))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	w.term(30 * time.Second)
	web.term(30 * time.Second)
}
