package hgtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var corpus struct {
	once sync.Once
	dir  string // the corpus directory, "" when not found
	root string // this binary's cache of unbundled repositories
	err  error

	mu    sync.Mutex
	repos map[string]*cached
}

type cached struct {
	once sync.Once
	dir  string
	err  error
}

// CorpusDir returns the shared corpus directory (shared/corpus, found by
// walking up from the working directory, or /work/shared/corpus), or "".
func CorpusDir() string {
	corpus.once.Do(func() {
		dir, err := os.Getwd()
		if err == nil {
			for {
				if p := filepath.Join(dir, "shared", "corpus"); isDir(p) {
					corpus.dir = p
					break
				}
				if p := filepath.Join(dir, "..", "shared", "corpus"); isDir(p) {
					corpus.dir, _ = filepath.Abs(p)
					break
				}
				parent := filepath.Dir(dir)
				if parent == dir {
					break
				}
				dir = parent
			}
		}
		if corpus.dir == "" && isDir("/work/shared/corpus") {
			corpus.dir = "/work/shared/corpus"
		}
		corpus.root, corpus.err = os.MkdirTemp("", "hgtest-corpus-")
		corpus.repos = map[string]*cached{}
	})
	return corpus.dir
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Bundle returns the path of the corpus bundle name (e.g. "flask.hg"). The
// corpus is part of what the tests need, like hg and git: its absence
// fails the test, so that a run without it cannot pass by skipping.
func Bundle(t testing.TB, name string) string {
	t.Helper()
	dir := CorpusDir()
	if dir == "" {
		t.Fatalf("the corpus (shared/corpus, beside or above the repository) is absent")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("corpus bundle %s is absent: %v", name, err)
	}
	return p
}

// Unbundle returns a repository holding the corpus bundle name (e.g.
// "flask.hg"). The bundle is unbundled once per test binary into a cache
// directory and the repository is shared by every test: read it, never
// change it (Clone it for a copy to change). The test fails when the bundle
// is absent (Bundle). Call Cleanup from TestMain to remove the cache.
func Unbundle(t testing.TB, name string) *Repo {
	t.Helper()
	bundle := Bundle(t, name)
	if corpus.err != nil {
		t.Fatal(corpus.err)
	}
	corpus.mu.Lock()
	c := corpus.repos[name]
	if c == nil {
		c = &cached{}
		corpus.repos[name] = c
	}
	corpus.mu.Unlock()
	c.once.Do(func() {
		dir := filepath.Join(corpus.root, strings.TrimSuffix(name, ".hg"))
		if _, err := RunErr("", "init", "--", dir); err != nil {
			c.err = err
			return
		}
		if _, err := RunErr(dir, "unbundle", "-q", "--", bundle); err != nil {
			c.err = err
			return
		}
		c.dir = dir
	})
	if c.err != nil {
		t.Fatalf("unbundle %s: %v", name, c.err)
	}
	return &Repo{t: t, Dir: c.dir}
}

// Cleanup removes the cache Unbundle fills; call it from TestMain after m.Run.
func Cleanup() error {
	if corpus.root == "" {
		return nil
	}
	return errors.Join(os.RemoveAll(corpus.root))
}
