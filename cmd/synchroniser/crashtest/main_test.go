// Package crashtest runs the synchroniser binary as real processes (serve,
// worker), kills them with SIGKILL in the middle of a sync and starts them
// again: the tests of liveness, takeover and home workers (issue 11).
package crashtest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/gittest"
	"github.com/synchroniser/synchroniser/internal/hgtest"
	"github.com/synchroniser/synchroniser/internal/kitrun"
	"github.com/synchroniser/synchroniser/internal/store"
)

// bin is the synchroniser binary, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "synchroniser-crashtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "synchroniser")
	build := exec.Command("go", "build", "-o", bin, "github.com/synchroniser/synchroniser/cmd/synchroniser")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest: build synchroniser:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	hgtest.Cleanup() //nolint:errcheck // temporary corpus copies, if any
	os.Exit(code)
}

const (
	hookSecret = "crashtest-generic-SECRET-0123"
	adminToken = "crashtest-ADMIN-token-4567"
)

// mirrorSpec is one configured mirror.
type mirrorSpec struct {
	Name   string
	Source string // hg URL or path
	Dest   string // bare git repository path
}

// settings make a configuration file.
type settings struct {
	DataDir  string
	Database string // PostgreSQL URL; "" = SQLite in DataDir
	Mirrors  []mirrorSpec
	Extra    string // more TOML, appended
	Grace    string // [queue] shutdown_grace, default "5s"
}

// single is the set-up most tests start from: mirror "m" of source into a
// new bare destination, configured in a new data dir (SQLite there unless s
// names a database).
type single struct {
	m    mirrorSpec
	dest string // the destination's git dir
	data string // the data dir
	cfg  string // the configuration file
}

// newSingle writes s (its DataDir and Mirrors filled in) for one mirror of source.
func newSingle(t *testing.T, source string, s settings) single {
	t.Helper()
	o := single{dest: gittest.Bare(t), data: t.TempDir()}
	o.m = mirrorSpec{Name: "m", Source: source, Dest: o.dest}
	s.DataDir, s.Mirrors = o.data, []mirrorSpec{o.m}
	o.cfg = writeConfig(t, s)
	return o
}

// db is the SQLite database in the data dir.
func (o single) db() store.Config {
	return store.Config{Driver: store.SQLite, Path: filepath.Join(o.data, "synchroniser.db")}
}

// startPaused starts `serve` (env added to its environment) and sends one
// webhook; it returns once the sync stops at the test pause point at.
func (o single) startPaused(t *testing.T, at string, env ...string) *proc {
	t.Helper()
	p := start(t, "serve", append([]string{pauseEnv + at}, env...), "serve", "--config", o.cfg)
	mustHook(t, p.addr, o.m, "d-1")
	p.waitLog("TEST PAUSE at "+at, time.Minute)
	return p
}

func writeConfig(t *testing.T, s settings) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "listen = \"127.0.0.1:0\"\ndata_dir = %q\nadmin_token = %q\n", s.DataDir, adminToken)
	if s.Database != "" {
		fmt.Fprintf(&b, "database_url = %q\n", s.Database)
	}
	fmt.Fprintf(&b, `[source]
schemes = ["https", "http"]
allow_private = true
allow_file = true
[limits]
concurrent_syncs = 2
subprocess_timeout = "1m"
sync_timeout = "10m"
rate_per_source = 0
[queue]
takeover_after = "3s"
heartbeat = "200ms"
shutdown_grace = %q
retry_base = "300ms"
retry_max = "2s"
[hooks.generic]
enabled = true
secret = %q
`, cmp.Or(s.Grace, "5s"), hookSecret)
	b.WriteString(s.Extra)
	b.WriteString("\n")
	for _, m := range s.Mirrors {
		fmt.Fprintf(&b, "[[mirror]]\nname = %q\nscm = \"hg\"\nsource = %q\nrepository = %q\n[mirror.destination]\nurl = %q\n",
			m.Name, m.Source, "team/"+m.Name, m.Dest)
	}
	path := filepath.Join(t.TempDir(), "synchroniser.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// proc is a synchroniser process.
type proc struct {
	*kitrun.Process
	t    *testing.T
	log  *kitrun.Buffer
	addr string // serve: http://127.0.0.1:P
}

var addrRE = regexp.MustCompile(`address=(http://127\.0\.0\.1:\d+)`)

// testEnv is the environment of the synchroniser processes: the kits' hg
// and git environments.
func testEnv() []string { return append(hgtest.Env(), gittest.Env()...) }

// start runs `synchroniser args...` with env added, and waits until it is
// up (serve: listening; worker: its queue started).
func start(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(testEnv(), env...)
	log := &kitrun.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	kp, err := kitrun.Start(name, cmd, log.String)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{Process: kp, t: t, log: log}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, p.tail(80))
		}
	})
	want := "queue started"
	p.waitLog(want, 60*time.Second)
	if args[0] == "serve" {
		p.waitLog("synchroniser serving", 30*time.Second)
		m := addrRE.FindStringSubmatch(p.log.String())
		if m == nil {
			t.Fatalf("%s: no address in the log", name)
		}
		p.addr = m[1]
	}
	return p
}

// tail is the last n lines of the process's log.
func (p *proc) tail(n int) string { return kitrun.Tail(p.log.String(), n) }

// waitLog waits until the log contains s.
func (p *proc) waitLog(s string, d time.Duration) {
	p.t.Helper()
	if err := p.WaitOutput(s, d); err != nil {
		p.t.Fatalf("%v:\n%s", err, p.tail(40))
	}
}

// term sends SIGTERM and waits up to d for a clean exit.
func (p *proc) term(d time.Duration) {
	p.t.Helper()
	if err := p.Term(d); err != nil {
		p.t.Fatal(err)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Errorf("%s exited %d after SIGTERM", p.Name, code)
	}
}

// hook sends a generic webhook for mirror and returns the status and body.
func hook(t *testing.T, addr string, m mirrorSpec, delivery string) (int, map[string]any) {
	t.Helper()
	body := fmt.Sprintf(`{"repository":"team/%s","url":%q,"scm":"hg","delivery":%q}`, m.Name, m.Source, delivery)
	req, err := http.NewRequest(http.MethodPost, addr+"/hooks/generic", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hookSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out) //nolint:errcheck // body checked by the caller
	return resp.StatusCode, out
}

// mustHook sends a webhook that must be accepted (202).
func mustHook(t *testing.T, addr string, m mirrorSpec, delivery string) {
	t.Helper()
	status, body := hook(t, addr, m, delivery)
	if status != http.StatusAccepted {
		t.Fatalf("webhook for %s: %d %v", m.Name, status, body)
	}
}

// get gets url with the header's name, value pairs and returns the body of
// the 200 response.
func get(t *testing.T, url string, header ...string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	return b
}

// getJSON gets url from the API, as the admin, into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal(get(t, url, "Accept", "application/json", "Authorization", "Bearer "+adminToken), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// history returns mirror's runs, newest first.
func history(t *testing.T, sc store.Config, mirror string) []store.Run {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(ctx, mirror, 100)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// refs returns the refs of gitDir ("" on error: not there yet).
func refs(gitDir string) string {
	out, err := gittest.RunErr("", "--git-dir="+gitDir, "for-each-ref", "--format=%(refname) %(objectname)")
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// cleanMirror mirrors source into a new bare repository with a fresh cache
// (`synchroniser mirror`) and returns its refs: what an uninterrupted sync
// gives.
func cleanMirror(t *testing.T, source string) string {
	t.Helper()
	dir := t.TempDir()
	dest := filepath.Join(dir, "clean.git")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "mirror", "--quiet", "--cache", filepath.Join(dir, "cache"), "--", source, dest)
	cmd.Env = testEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clean mirror: %v\n%s", err, out)
	}
	r := refs(dest)
	if r == "" {
		t.Fatal("clean mirror has no refs")
	}
	return r
}

// waitRefs waits until dest's refs are want and returns how long it took.
func waitRefs(t *testing.T, dest, want string, d time.Duration, procs ...*proc) time.Duration {
	t.Helper()
	return waitDest(t, d, procs, func() bool { return refs(dest) == want }, func() string {
		return fmt.Sprintf("destination %s not synced within %v:\ngot  %q\nwant %q", dest, d, refs(dest), want)
	})
}

// waitDest polls done until it holds and returns how long that took; after
// d it logs the tail of each process's log and fails with failure().
func waitDest(t *testing.T, d time.Duration, procs []*proc, done func() bool, failure func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for !done() {
		if time.Since(start) > d {
			for _, p := range procs {
				t.Logf("log of %s:\n%s", p.Name, p.tail(60))
			}
			t.Fatal(failure())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// commits returns how many commits refs/heads/master of gitDir has (-1
// if none).
func commits(gitDir string) int {
	out, err := gittest.RunErr("", "--git-dir="+gitDir, "rev-list", "--count", "refs/heads/master", "--")
	if err != nil {
		return -1
	}
	var n int
	fmt.Sscan(out, &n) //nolint:errcheck // -1 stays on garbage
	return n
}

// waitCommits waits until dest's master has n commits and returns how long
// it took.
func waitCommits(t *testing.T, dest string, n int, d time.Duration, procs ...*proc) time.Duration {
	t.Helper()
	return waitDest(t, d, procs, func() bool { return commits(dest) == n }, func() string {
		return fmt.Sprintf("destination %s not synced within %v: master has %d commits, want %d", dest, d, commits(dest), n)
	})
}

// newSource makes an hg repository of n changesets (files added, one
// bookmark-less default branch) served by hg serve, and returns it.
func newSource(t *testing.T, n int) (*hgtest.Repo, *hgtest.Server) {
	t.Helper()
	r := hgtest.NewRepo(t)
	r.Run("debugbuilddag", "--new-file", fmt.Sprintf("+%d", n))
	r.Run("update", "-q", "tip")
	return r, hgtest.Serve(t, r)
}
