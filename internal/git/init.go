package git

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/synchroniser/synchroniser/internal/atomicfile"
)

// Init creates an empty repository whose git directory is gitDir (for a
// non-bare repository, gitDir is the ".git" directory inside the work tree),
// laid out as `git init --template=` and dulwich's Repo.init_bare do: HEAD on
// refs/heads/master, no hooks. A gitDir that already holds HEAD is left alone.
func Init(ctx context.Context, gitDir string, bare bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("git: init %s: %w", gitDir, err)
	}
	head := filepath.Join(gitDir, "HEAD")
	if _, err := os.Stat(head); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("git: init %s: %w", gitDir, err)
	}
	for _, d := range []string{"objects/info", "objects/pack", "refs/heads", "refs/tags", "info"} {
		if err := os.MkdirAll(filepath.Join(gitDir, filepath.FromSlash(d)), 0o755); err != nil {
			return fmt.Errorf("git: init %s: %w", gitDir, err)
		}
	}
	config := "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n"
	if bare {
		config += "\tbare = true\n"
	} else {
		config += "\tbare = false\n\tlogallrefupdates = true\n"
	}
	files := []struct{ name, data string }{
		{"config", config},
		{"description", "Unnamed repository; edit this file 'description' to name the repository.\n"},
		{"info/exclude", ""},
		// HEAD last: its presence marks a finished repository.
		{"HEAD", "ref: refs/heads/master\n"},
	}
	for _, f := range files {
		if err := atomicfile.WriteReadable(filepath.Join(gitDir, filepath.FromSlash(f.name)), []byte(f.data), true); err != nil {
			return fmt.Errorf("git: init %s: %w", gitDir, err)
		}
	}
	return nil
}
