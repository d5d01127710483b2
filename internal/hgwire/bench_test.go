package hgwire

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// TestBenchNativeTransport measures the native transport against hg in
// the same run (bench/native-transport.sh runs it; HGWIRE_BENCH=1):
//   - the pull of one new changeset of click over HTTP, native vs hg pull
//     (median of ITERATIONS, default 5);
//   - the first clone of flask over HTTP, native vs hg clone -U.
//
// It prints Markdown rows: | benchmark | native | hg | ratio | goal | met |.
func TestBenchNativeTransport(t *testing.T) {
	if os.Getenv("HGWIRE_BENCH") == "" {
		t.Skip("set HGWIRE_BENCH=1 (bench/native-transport.sh)")
	}
	iterations := 5
	if v, err := strconv.Atoi(os.Getenv("ITERATIONS")); err == nil && v > 0 {
		iterations = v
	}
	median := func(d []time.Duration) time.Duration {
		s := append([]time.Duration{}, d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	var rows []string
	row := func(name string, native, ref time.Duration, goal float64) {
		ratio := ref.Seconds() / native.Seconds()
		met := "**no**"
		if ratio >= goal {
			met = "yes"
		}
		rows = append(rows, fmt.Sprintf("| %s | %.3f s | %.3f s | %.1f× | ≥ %g× | %s |", name, native.Seconds(), ref.Seconds(), ratio, goal, met))
	}

	// One new changeset of click, iterations times.
	click := hgtest.Unbundle(t, "click.hg")
	tip := tipRev(t, click)
	src := filepath.Join(t.TempDir(), "src")
	hgtest.Run(t, "", "clone", "-q", "-U", "-r", strconv.Itoa(tip-iterations), "--", click.Dir, src)
	srv := hgtest.Serve(t, hgtest.Open(t, src))
	nativeCache := filepath.Join(t.TempDir(), "native")
	hgCache := filepath.Join(t.TempDir(), "hg")
	pull(t, srv.URL, nativeCache, PullOptions{})
	hgtest.Run(t, "", "clone", "-q", "-U", "--", srv.URL, hgCache)
	var nat, ref []time.Duration
	for i := iterations - 1; i >= 0; i-- {
		hgtest.Run(t, src, "pull", "-q", "-r", strconv.Itoa(tip-i), "--", click.Dir)
		start := time.Now()
		_, stats := pull(t, srv.URL, nativeCache, PullOptions{})
		nat = append(nat, time.Since(start))
		if stats.Changesets != 1 {
			t.Fatalf("native pull: %d changesets", stats.Changesets)
		}
		start = time.Now()
		hgtest.Run(t, hgCache, "pull", "-q", "--", srv.URL)
		ref = append(ref, time.Since(start))
	}
	verify(t, nativeCache)
	row(fmt.Sprintf("pull of one new changeset, click over HTTP (median of %d)", iterations), median(nat), median(ref), 10)

	// First clone of flask.
	flask := hgtest.Unbundle(t, "flask.hg")
	fsrv := hgtest.Serve(t, flask)
	start := time.Now()
	pull(t, fsrv.URL, filepath.Join(t.TempDir(), "flask-native"), PullOptions{})
	n := time.Since(start)
	start = time.Now()
	hgtest.Run(t, "", "clone", "-q", "-U", "--", fsrv.URL, filepath.Join(t.TempDir(), "flask-hg"))
	row("first clone of flask over HTTP", n, time.Since(start), 2)
	for _, r := range rows {
		fmt.Println(r)
	}
}
