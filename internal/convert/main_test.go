package convert_test

import (
	"context"
	"fmt"
	"os"
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

// copyRepo copies the repository at src (its whole tree: files, dirs,
// symlinks as links) into a new temporary directory as name and returns
// the copy.
func copyRepo(t testing.TB, src, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

// freshCopy is copyRepo without the conversion src holds: no .hg/git, map
// or native state, so that converting the copy starts from nothing.
func freshCopy(t testing.TB, src, name string) string {
	t.Helper()
	dst := copyRepo(t, src, name)
	for _, p := range []string{convert.GitDir(dst), convert.MapPath(dst), convert.StatePath(dst)} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// importPatch commits, with `hg import --bypass` on top of the working
// directory's parent, new contents for whole files (name → {old, new}; old
// "" for a new file); unlike hg commit it does not check subrepositories:
// the way to record a .hgsub naming an [svn] subrepository or a malformed
// .hgsubstate, as older tools did (flask has one). args go to hg import.
func importPatch(t testing.TB, dir, msg string, files map[string][2]string, args ...string) {
	t.Helper()
	var p strings.Builder
	for name, c := range files {
		old, new := c[0], c[1]
		fmt.Fprintf(&p, "diff --git a/%s b/%s\n", name, name)
		if old == "" {
			fmt.Fprintf(&p, "new file mode 100644\n--- /dev/null\n")
		} else {
			fmt.Fprintf(&p, "--- a/%s\n", name)
		}
		fmt.Fprintf(&p, "+++ b/%s\n", name)
		ol, nl := lines(old), lines(new)
		fmt.Fprintf(&p, "@@ -%s +%s @@\n", hunkRange(len(ol)), hunkRange(len(nl)))
		for _, l := range ol {
			p.WriteString("-" + l + "\n")
		}
		for _, l := range nl {
			p.WriteString("+" + l + "\n")
		}
	}
	patch := filepath.Join(t.TempDir(), "p.diff")
	if err := os.WriteFile(patch, []byte(p.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	hgtest.Run(t, dir, append(append([]string{"import", "--bypass", "-m", msg}, args...), "--", patch)...)
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func hunkRange(n int) string {
	if n == 0 {
		return "0,0"
	}
	return fmt.Sprintf("1,%d", n)
}

// unbundle returns a private copy (a local clone) of the repository of a
// corpus bundle, unbundled once per test binary; it skips the test when the
// bundle is absent.
func unbundle(t testing.TB, name string) string {
	t.Helper()
	return hgtest.Unbundle(t, name).Clone(t).Dir
}

// converter is what convert.Native and hggit.Converter both are.
type converter interface {
	Convert(ctx context.Context, dir string, opts convert.Options) (*convert.Result, error)
}

// hgGit is hg-git's converter: the installed extension, or with ext the
// hggit package at that path.
func hgGit(ext string) converter {
	return &hggit.Converter{Runner: &hg.Runner{Timeout: 10 * time.Minute}, Extension: ext}
}

// tryConvert converts dir with c under settings s, within 10 minutes.
func tryConvert(c converter, dir string, s convert.Settings) (*convert.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return c.Convert(ctx, dir, convert.Options{Settings: s})
}

// mustConvert is tryConvert that fails the test on error.
func mustConvert(t testing.TB, c converter, dir string, s convert.Settings) *convert.Result {
	t.Helper()
	res, err := tryConvert(c, dir, s)
	if err != nil {
		t.Fatalf("convert %s (%T): %v", dir, c, err)
	}
	return res
}

func runNative(t testing.TB, dir string) *convert.Result {
	t.Helper()
	return mustConvert(t, &convert.Native{}, dir, convert.Settings{})
}

func tryHgGit(dir string) (*convert.Result, error) {
	return tryConvert(hgGit(""), dir, convert.Settings{})
}

func runHgGit(t testing.TB, dir string) *convert.Result {
	t.Helper()
	return mustConvert(t, hgGit(""), dir, convert.Settings{})
}

// convertBoth converts a copy of src with hg-git and another natively,
// both under settings s.
func convertBoth(t testing.TB, src string, s convert.Settings) (ref string, want *convert.Result, nat string, got *convert.Result) {
	t.Helper()
	ref, nat = copyRepo(t, src, "hggit"), copyRepo(t, src, "native")
	return ref, mustConvert(t, hgGit(""), ref, s), nat, mustConvert(t, &convert.Native{}, nat, s)
}

// compareConversions requires hg-git's conversion in ref and the native one
// in nat to agree: every commit of the maps, bookmarks, tags and tip.
func compareConversions(t testing.TB, ref string, want *convert.Result, nat string, got *convert.Result) {
	t.Helper()
	compareMaps(t, readMap(t, ref), readMap(t, nat))
	compareStringMaps(t, "bookmarks", want.Bookmarks, got.Bookmarks)
	compareStringMaps(t, "tags", want.Tags, got.Tags)
	if want.Tip != got.Tip {
		t.Errorf("tip: hg-git %s, native %s", want.Tip, got.Tip)
	}
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

// mapLines writes a map as sorted "<hg node> <git sha>" lines.
func mapLines(m map[string]string) string {
	lines := make([]string, 0, len(m))
	for n, h := range m {
		lines = append(lines, n+" "+h)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
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
