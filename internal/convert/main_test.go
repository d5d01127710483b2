package convert_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/synchroniser/synchroniser/internal/convert"
	"github.com/synchroniser/synchroniser/internal/convert/hggit"
	"github.com/synchroniser/synchroniser/internal/hg"
	"github.com/synchroniser/synchroniser/internal/hgtest"
)

func requireHg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("hg"); err != nil {
		t.Fatalf("hg is required: %v", err)
	}
	if _, err := os.Stat("/usr/lib/python3/dist-packages/hggit"); err != nil {
		t.Fatalf("hg-git (mercurial-git) is required: %v", err)
	}
}

// copyDir copies the directory tree src to dst (files, dirs, symlinks).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		default:
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm()|0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// unbundle returns a private copy (a local clone) of the repository of a
// corpus bundle, unbundled once per test binary; it skips the test when the
// bundle is absent.
func unbundle(t testing.TB, name string) string {
	t.Helper()
	return hgtest.Unbundle(t, name).Clone(t).Dir
}

func runNative(t testing.TB, dir string) *convert.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := (&convert.Native{}).Convert(ctx, dir, convert.Options{})
	if err != nil {
		t.Fatalf("native convert %s: %v", dir, err)
	}
	return res
}

func tryHgGit(dir string) (*convert.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := &hggit.Converter{Runner: &hg.Runner{Timeout: 10 * time.Minute}}
	return c.Convert(ctx, dir, convert.Options{})
}

func runHgGit(t testing.TB, dir string) *convert.Result {
	t.Helper()
	res, err := tryHgGit(dir)
	if err != nil {
		t.Fatalf("hg-git convert %s: %v", dir, err)
	}
	return res
}

// readMap reads a converted repository's git-mapfile.
func readMap(t testing.TB, dir string) map[string]string {
	t.Helper()
	m, err := convert.ReadMap(convert.MapPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(m))
	for n, h := range m {
		out[n.String()] = h.String()
	}
	return out
}

// compareMaps reports every hg node whose Git commit differs.
func compareMaps(t testing.TB, want, got map[string]string) {
	t.Helper()
	var diffs []string
	for n, w := range want {
		if g := got[n]; g != w {
			diffs = append(diffs, fmt.Sprintf("%s: hg-git %s, native %s", n, w, g))
		}
	}
	for n, g := range got {
		if _, ok := want[n]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: not in hg-git's map, native %s", n, g))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("... and %d more", len(diffs)-20))
		}
		t.Errorf("%d of %d commits differ:\n%s", len(diffs), len(want), strings.Join(diffs, "\n"))
	}
}

func compareStringMaps(t testing.TB, what string, want, got map[string]string) {
	t.Helper()
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("%s differ:\nhg-git %v\nnative %v", what, want, got)
	}
}
