package git

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// IsRepository reports whether dir is a Git repository: a bare one (HEAD,
// objects and refs) or a work tree with a .git directory.
func IsRepository(dir string) bool {
	return isBare(dir) || isDir(filepath.Join(dir, ".git"))
}

func isBare(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "HEAD"))
	return err == nil && isDir(filepath.Join(dir, "objects")) && isDir(filepath.Join(dir, "refs"))
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// EnsureBare returns path made absolute, creating a bare repository there
// (with Init) when nothing exists at path. The repository is made under a
// temporary name and renamed into place, so a concurrent run never sees it
// half made. An existing path must be a Git repository (bare or not).
// Errors name path as "destination".
func EnsureBare(ctx context.Context, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return "", fmt.Errorf("destination %s: %w", path, err)
		}
		tmp, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".init-")
		if err != nil {
			return "", fmt.Errorf("destination %s: %w", path, err)
		}
		defer os.RemoveAll(tmp) // gone once renamed
		if err := Init(ctx, tmp, true); err != nil {
			return "", fmt.Errorf("destination %s: %w", path, err)
		}
		if err := os.Chmod(tmp, 0o755); err != nil {
			return "", fmt.Errorf("destination %s: %w", path, err)
		}
		// Renaming onto a directory another run made first fails: theirs is kept.
		os.Rename(tmp, abs)
	}
	if !IsRepository(abs) {
		return "", fmt.Errorf("destination %s: exists and is not a Git repository", path)
	}
	return abs, nil
}

// FixHead points the HEAD of the local repository gitDir at a branch that
// exists when it names none (a fresh repository's HEAD is refs/heads/master,
// a mirror may have pushed only main or bookmarks): the tip branch if
// present, else the first branch. A detached or unreadable HEAD is left
// alone. Errors name gitDir as "destination".
func (r *Runner) FixHead(ctx context.Context, gitDir, tipBranch string) error {
	l := *r
	l.AllowFile = true
	refs, err := l.Refs(ctx, gitDir)
	if err != nil {
		return fmt.Errorf("destination %s: %w", gitDir, err)
	}
	head, err := l.Head(ctx, gitDir)
	if err != nil {
		return nil // detached or unreadable HEAD: not ours to change
	}
	if _, ok := refs[head]; ok {
		return nil
	}
	target := ""
	if _, ok := refs["refs/heads/"+tipBranch]; ok {
		target = "refs/heads/" + tipBranch
	} else {
		for ref := range refs {
			if strings.HasPrefix(ref, "refs/heads/") && (target == "" || ref < target) {
				target = ref
			}
		}
	}
	if target == "" {
		return nil
	}
	if err := l.SetHead(ctx, gitDir, target); err != nil {
		return fmt.Errorf("destination %s: set HEAD: %w", gitDir, err)
	}
	return nil
}
