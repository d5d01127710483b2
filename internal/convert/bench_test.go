package convert_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

// benchConvert measures a full native conversion of a corpus bundle: each
// iteration converts a fresh copy whose .hg/git and map were removed.
func benchConvert(b *testing.B, bundle string) {
	hgtest.RequireHgGit(b)
	src := unbundle(b, bundle)
	b.ResetTimer()
	var total int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		os.RemoveAll(convert.GitDir(src))
		os.Remove(convert.MapPath(src))
		b.StartTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		res, err := (&convert.Native{}).Convert(ctx, src, convert.Options{})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		total = res.Converted
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "changesets/s")
}

// BenchmarkConvertClick converts the click corpus (3,333 changesets).
func BenchmarkConvertClick(b *testing.B) { benchConvert(b, "click.hg") }

// BenchmarkConvertFlask converts the flask corpus (5,534 changesets).
func BenchmarkConvertFlask(b *testing.B) { benchConvert(b, "flask.hg") }

// BenchmarkHgGitClick is the reference: hg-git's gexport on click.
func BenchmarkHgGitClick(b *testing.B) {
	hgtest.RequireHgGit(b)
	src := unbundle(b, "click.hg")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := copyRepo(b, src, "r")
		b.StartTimer()
		runHgGit(b, dir)
	}
}

// BenchmarkClickVsHgGit converts click once with hg-git and b.N times
// natively in the same run and reports the speed ratio (hg-git time /
// native time) as "x-hggit".
func BenchmarkClickVsHgGit(b *testing.B) {
	hgtest.RequireHgGit(b)
	src := unbundle(b, "click.hg")
	ref := copyRepo(b, src, "ref")
	start := time.Now()
	runHgGit(b, ref)
	hgGit := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		os.RemoveAll(convert.GitDir(src))
		os.Remove(convert.MapPath(src))
		b.StartTimer()
		runNative(b, src)
	}
	native := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(hgGit.Seconds(), "hggit-s")
	b.ReportMetric(float64(hgGit)/float64(native), "x-hggit")
}
