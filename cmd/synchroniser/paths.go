package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/synchroniser/synchroniser/internal/git"
	"github.com/synchroniser/synchroniser/internal/scm"
)

// This file holds the one-shot subcommands' local paths: the default
// cache, what is a path rather than a URL, and which repository a path is.

// userCacheDir is the cache directory of a one-shot mirror without --cache.
func userCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "synchroniser"), nil
}

// isLocalPath reports whether s is a path rather than a URL (scheme:// or
// git's scp-like user@host:path).
func isLocalPath(s string) bool {
	if strings.Contains(s, "://") {
		return false
	}
	if i := strings.Index(s, ":"); i > 0 && !strings.Contains(s[:i], "/") {
		return false
	}
	return true
}

// localAbs makes a local path absolute (a clone's path must not depend on
// the directory hg runs in); URLs are returned as they are.
func localAbs(s string) string {
	if !isLocalPath(s) {
		return s
	}
	if abs, err := filepath.Abs(s); err == nil {
		return abs
	}
	return s
}

// detectSCM says whether a local SOURCE is a Mercurial or a Git
// repository; URLs are taken as Mercurial unless they end in ".git".
func detectSCM(source string) (scm.Kind, error) {
	path := source
	if strings.HasPrefix(source, "file://") {
		path = strings.TrimPrefix(source, "file://")
	} else if !isLocalPath(source) {
		if strings.HasSuffix(strings.TrimRight(source, "/"), ".git") {
			return scm.Git, nil
		}
		return scm.Hg, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", source, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("source %s: not a directory", source)
	}
	if isDir(filepath.Join(path, ".hg")) {
		return scm.Hg, nil
	}
	if git.IsRepository(path) {
		return scm.Git, nil
	}
	return "", fmt.Errorf("source %s: not a Mercurial or Git repository", source)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// checkHgRoot says, in one line, why path (abs made absolute) is not the
// root of a Mercurial repository, before a converter creates anything in it.
func checkHgRoot(path, abs string) error {
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", path)
	}
	if !isDir(filepath.Join(abs, ".hg")) {
		return fmt.Errorf("%s: not a Mercurial repository (no .hg directory)", path)
	}
	return nil
}
