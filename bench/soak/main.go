// Command soak is the soak benchmark of liveness (issue 11): many mirrors on
// `hg serve` sources, a steady stream of webhooks on loopback, commits to the
// sources while it runs, and the worker process killed with SIGKILL and
// started again during it. It reports pushes lost, the longest a push waited
// for its sync, the peak memory and open file descriptors of each process
// (and whether they grew), and the intake latency p99. Run it through
// bench/soak.sh; it is not part of `make test`.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/synchroniser/synchroniser/internal/kitrun"
	"github.com/synchroniser/synchroniser/internal/store"
)

var (
	binFlag      = flag.String("bin", "bin/synchroniser", "synchroniser binary")
	mirrorsFlag  = flag.Int("mirrors", 100, "mirrors")
	hooksFlag    = flag.Int("hooks", 10000, "webhooks in all")
	durationFlag = flag.Duration("duration", 5*time.Minute, "how long the webhooks come")
	killsFlag    = flag.Int("kills", 2, "times the worker is killed (SIGKILL) and started again")
	commitEvery  = flag.Duration("commit-every", 500*time.Millisecond, "a commit to a random source this often (each followed by its webhook)")
	workFlag     = flag.String("work", "", "work directory (default: a new temporary one, removed)")
	settleFlag   = flag.Duration("settle", 2*time.Minute, "how long to wait after the load for the last syncs")
	databaseFlag = flag.String("database", "", "PostgreSQL URL (default: SQLite in the work directory)")
)

const secret = "soak-generic-SECRET"

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: "+format+"\n", args...)
}

// env is the environment of hg, git and synchroniser here.
func env() []string {
	return append(os.Environ(), "HGPLAIN=1", "HGRCPATH=", "HGUSER=soak <soak@localhost>",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
}

func sh(dir, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// startProc starts bin (the synchroniser, or hg serve) with its output
// appended to logPath.
func startProc(name, logPath, bin string, args ...string) (*kitrun.Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env(), f, f
	return kitrun.Start(name, cmd, readLog(logPath))
}

// readLog returns a reader of the log file at path.
func readLog(path string) func() string {
	return func() string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
}

// stop sends SIGTERM, and SIGKILL if p is still running two minutes later.
func stop(p *kitrun.Process) {
	if p.Term(2*time.Minute) != nil {
		p.Kill()
	}
}

// usage is the peak and the first and last samples of a process's memory
// (RSS, KiB) and open file descriptors.
type usage struct {
	peakRSS, peakFDs  int
	firstRSS, lastRSS int
	firstFDs, lastFDs int
	samples           int
}

func sample(pid int) (rss, fds int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss, _ = strconv.Atoi(strings.Fields(v)[0])
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return rss, -1
	}
	return rss, len(ents)
}

func (u *usage) add(rss, fds int) {
	if rss < 0 {
		return
	}
	if u.samples == 0 {
		u.firstRSS, u.firstFDs = rss, fds
	}
	u.samples++
	u.lastRSS, u.lastFDs = rss, fds
	u.peakRSS, u.peakFDs = max(u.peakRSS, rss), max(u.peakFDs, fds)
}

type push struct {
	mirror string
	at     time.Time // when its webhook was accepted
}

func run() error {
	bin, err := filepath.Abs(*binFlag)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("no binary at %s (make build)", bin)
	}
	work := *workFlag
	if work == "" {
		if work, err = os.MkdirTemp("", "synchroniser-soak-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	n := *mirrorsFlag
	logf("%d mirrors, %d webhooks over %v, %d worker kills, in %s", n, *hooksFlag, *durationFlag, *killsFlag, work)

	// Sources (one commit each) served by one hg serve; bare destinations.
	var names []string
	var conf strings.Builder
	conf.WriteString("[web]\npush_ssl = false\n[paths]\n")
	for i := range n {
		name := fmt.Sprintf("m%03d", i)
		names = append(names, name)
		src := filepath.Join(work, "src", name)
		if _, err := sh("", "hg", "init", "--", src); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(src, "README"), []byte(name+"\n"), 0o644); err != nil {
			return err
		}
		if _, err := sh(src, "hg", "commit", "-q", "-A", "-m", "first"); err != nil {
			return err
		}
		if _, err := sh("", "git", "init", "-q", "--bare", "--", filepath.Join(work, "dest", name+".git")); err != nil {
			return err
		}
		fmt.Fprintf(&conf, "%s = %s\n", name, src)
	}
	if err := os.WriteFile(filepath.Join(work, "hgweb.conf"), []byte(conf.String()), 0o644); err != nil {
		return err
	}
	hgLog := filepath.Join(work, "hgserve.log")
	if err := os.WriteFile(hgLog, nil, 0o644); err != nil { // a fresh log: the port is read from it
		return err
	}
	hgs, err := startProc("hg serve", hgLog, "hg", "serve", "--web-conf", filepath.Join(work, "hgweb.conf"), "-a", "127.0.0.1", "-p", "0",
		"--accesslog", os.DevNull, "--errorlog", filepath.Join(work, "hgserve.err"))
	if err != nil {
		return err
	}
	defer hgs.Kill()
	if err := hgs.WaitOutput("bound to", 30*time.Second); err != nil {
		return err
	}
	out := hgs.Output()
	m := regexp.MustCompile(`bound to 127\.0\.0\.1:(\d+)`).FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("hg serve: no port in %q", out)
	}
	base := "http://127.0.0.1:" + m[1]

	// Configuration: serve --no-workers (intake) and one worker process.
	data := filepath.Join(work, "data")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "listen = \"127.0.0.1:0\"\ndata_dir = %q\n", data)
	if *databaseFlag != "" {
		fmt.Fprintf(&cfg, "database_url = %q\n", *databaseFlag)
	}
	fmt.Fprintf(&cfg, `[log]
level = "info"
[source]
schemes = ["http"]
hosts = ["127.0.0.1"]
allow_private = true
allow_file = true
[limits]
rate_per_source = 0
concurrent_syncs = 4
[queue]
takeover_after = "20s"
heartbeat = "2s"
retry_base = "2s"
retry_max = "30s"
[hooks.generic]
enabled = true
secret = %q
`, secret)
	for _, name := range names {
		fmt.Fprintf(&cfg, "[[mirror]]\nname = %q\nscm = \"hg\"\nsource = %q\nrepository = %q\n[mirror.destination]\nurl = %q\n",
			name, base+"/"+name, "soak/"+name, filepath.Join(work, "dest", name+".git"))
	}
	cfgPath := filepath.Join(work, "synchroniser.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return err
	}
	serveLog, workerLog := filepath.Join(work, "serve.log"), filepath.Join(work, "worker.log")
	serve, err := startProc("serve", serveLog, bin, "serve", "--config", cfgPath, "--no-workers")
	if err != nil {
		return err
	}
	defer stop(serve)
	if err := serve.WaitOutput("synchroniser serving", time.Minute); err != nil {
		return err
	}
	am := regexp.MustCompile(`address=(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(serve.Output())
	if am == nil {
		return fmt.Errorf("serve: no address in the log")
	}
	addr := am[1]
	workerArgs := []string{"worker", "--config", cfgPath, "--id", "soak-worker", "--data-dir", filepath.Join(work, "worker")}
	var wmu sync.Mutex
	worker, err := startProc("worker", workerLog, bin, workerArgs...)
	if err != nil {
		return err
	}
	defer func() { wmu.Lock(); stop(worker); wmu.Unlock() }()
	if err := worker.WaitOutput("queue started", time.Minute); err != nil {
		return err
	}

	// Usage sampling, every second.
	var umu sync.Mutex
	use := map[string]*usage{"serve": {}, "worker": {}}
	stopSampling := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
			wmu.Lock()
			wpid := worker.Cmd.Process.Pid
			wmu.Unlock()
			umu.Lock()
			use["serve"].add(sample(serve.Cmd.Process.Pid))
			use["worker"].add(sample(wpid))
			umu.Unlock()
		}
	}()

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	hook := func(name, delivery string) (int, time.Duration) {
		body := fmt.Sprintf(`{"repository":"soak/%s","url":"%s/%s","scm":"hg","delivery":%q}`, name, base, name, delivery)
		req, _ := http.NewRequest(http.MethodPost, addr+"/hooks/generic", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secret)
		t0 := time.Now()
		resp, err := client.Do(req)
		d := time.Since(t0)
		if err != nil {
			return 0, d
		}
		resp.Body.Close()
		return resp.StatusCode, d
	}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		pushes    []push
		status    = map[int]int{}
		commits   = map[string]int{}
	)
	for _, name := range names {
		commits[name] = 1
	}
	start := time.Now()
	end := start.Add(*durationFlag)
	var wg sync.WaitGroup

	// Commits: each to a random source, then its webhook (a push).
	var srcMu sync.Mutex // one hg commit at a time per source is enough: one at a time in all
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; time.Now().Before(end); i++ {
			name := names[rand.IntN(len(names))]
			src := filepath.Join(work, "src", name)
			srcMu.Lock()
			err := os.WriteFile(filepath.Join(src, "README"), []byte(fmt.Sprintf("%s %d\n", name, i)), 0o644)
			if err == nil {
				_, err = sh(src, "hg", "commit", "-q", "-m", fmt.Sprintf("soak %d", i))
			}
			srcMu.Unlock()
			if err != nil {
				logf("commit: %v", err)
				continue
			}
			mu.Lock()
			commits[name]++
			mu.Unlock()
			code, d := hook(name, fmt.Sprintf("push-%d", i))
			mu.Lock()
			latencies = append(latencies, d)
			status[code]++
			if code == http.StatusAccepted {
				pushes = append(pushes, push{name, time.Now()})
			} else {
				logf("push webhook for %s answered %d: the push is not accepted", name, code)
			}
			mu.Unlock()
			time.Sleep(*commitEvery)
		}
	}()

	// The stream of webhooks (no new commit: coalesced or up-to-date syncs).
	interval := *durationFlag / time.Duration(max(*hooksFlag, 1))
	const senders = 8
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(time.Duration(s) * interval)
			for i := s; i < *hooksFlag; i += senders {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(senders * interval)
				code, d := hook(names[i%len(names)], fmt.Sprintf("hook-%d", i))
				mu.Lock()
				latencies = append(latencies, d)
				status[code]++
				mu.Unlock()
			}
		}()
	}

	// Kills: the worker is killed with SIGKILL and started again.
	for k := 1; k <= *killsFlag; k++ {
		at := start.Add(*durationFlag * time.Duration(k) / time.Duration(*killsFlag+1))
		time.Sleep(time.Until(at))
		wmu.Lock()
		worker.Kill()
		logf("worker killed at %v", time.Since(start).Round(time.Second))
		worker, err = startProc("worker", workerLog, bin, workerArgs...)
		wmu.Unlock()
		if err != nil {
			return err
		}
	}
	wg.Wait()
	loadEnd := time.Now()
	logf("load done after %v: %d webhooks sent, %d pushes; waiting up to %v for the last syncs", loadEnd.Sub(start).Round(time.Second),
		len(latencies), len(pushes), *settleFlag)

	// Every source head must reach its destination.
	lost := map[string]bool{}
	deadline := time.Now().Add(*settleFlag)
	for {
		clear(lost)
		for _, name := range names {
			out, err := sh("", "git", "--git-dir="+filepath.Join(work, "dest", name+".git"), "rev-list", "--count", "refs/heads/master", "--")
			got, _ := strconv.Atoi(strings.TrimSpace(out))
			if err != nil || got != commits[name] {
				lost[name] = true
			}
		}
		if len(lost) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	close(stopSampling)
	settled := time.Since(loadEnd)

	// The longest wait: from a push's accepted webhook to the end of the
	// first successful run of its mirror that started after it.
	ctx := context.Background()
	sc := store.Config{Driver: store.SQLite, Path: filepath.Join(data, "synchroniser.db")}
	if *databaseFlag != "" {
		sc = store.Config{Driver: store.Postgres, URL: *databaseFlag}
	}
	st, err := store.Open(ctx, sc)
	if err != nil {
		return err
	}
	defer st.Close()
	runs := map[string][]store.Run{}
	for _, name := range names {
		rs, err := st.Runs(ctx, name, 1000)
		if err != nil {
			return err
		}
		runs[name] = rs
	}
	var longest time.Duration
	var longestMirror string
	unsynced := 0
	for _, p := range pushes {
		best := time.Duration(-1)
		for _, r := range runs[p.mirror] {
			if r.Outcome == store.OutcomeSuccess && !r.Started.Before(p.at.Add(-time.Second)) && !r.Finished.IsZero() {
				if w := r.Finished.Sub(p.at); best < 0 || w < best {
					best = w
				}
			}
		}
		if best < 0 {
			unsynced++
			continue
		}
		if best > longest {
			longest, longestMirror = best, p.mirror
		}
	}
	interrupted := 0
	for _, rs := range runs {
		for _, r := range rs {
			if strings.Contains(r.Error, "interrupted") {
				interrupted++
			}
		}
	}

	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	p := func(q float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))]
	}
	fmt.Printf("| soak: %d mirrors, %d webhooks over %v, worker killed %d× | value | goal | met |\n", n, *hooksFlag, *durationFlag, *killsFlag)
	fmt.Printf("|---|---|---|---|\n")
	fmt.Printf("| pushes lost (source head not at its destination %v after the load) | %d of %d mirrors | 0 | %s |\n",
		settled.Round(time.Second), len(lost), n, yes(len(lost) == 0))
	fmt.Printf("| accepted pushes with no sync after them | %d of %d | 0 | %s |\n", unsynced, len(pushes), yes(unsynced == 0))
	fmt.Printf("| longest wait of a push for its sync (%s) | %v | ≤ 60 s | %s |\n", longestMirror, longest.Round(time.Millisecond), yes(longest <= time.Minute))
	fmt.Printf("| runs interrupted by the kills (taken over) | %d | | |\n", interrupted)
	fmt.Printf("| intake latency p50 / p99 / max | %v / %v / %v | | |\n", p(0.5).Round(time.Microsecond), p(0.99).Round(time.Microsecond), p(1).Round(time.Microsecond))
	codes := []string{}
	for c, k := range status {
		codes = append(codes, fmt.Sprintf("%d: %d", c, k))
	}
	sort.Strings(codes)
	fmt.Printf("| webhook answers | %s | all 202 | %s |\n", strings.Join(codes, ", "), yes(len(status) == 1 && status[202] > 0))
	for _, name := range []string{"serve", "worker"} {
		u := use[name]
		fmt.Printf("| %s: peak RSS, first → last sample | %d MiB, %d → %d MiB | flat | %s |\n", name, u.peakRSS/1024, u.firstRSS/1024, u.lastRSS/1024,
			yes(u.lastRSS <= 2*u.firstRSS+64<<10))
		fmt.Printf("| %s: peak open fds, first → last sample | %d, %d → %d | flat | %s |\n", name, u.peakFDs, u.firstFDs, u.lastFDs,
			yes(u.lastFDs <= 2*u.firstFDs+32))
	}
	if len(lost) > 0 || unsynced > 0 {
		return fmt.Errorf("%d mirrors behind their source, %d pushes never synced (logs in %s)", len(lost), unsynced, work)
	}
	return nil
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
