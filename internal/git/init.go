package git

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
		if err := writeFileSync(filepath.Join(gitDir, filepath.FromSlash(f.name)), []byte(f.data)); err != nil {
			return fmt.Errorf("git: init %s: %w", gitDir, err)
		}
	}
	return nil
}

// writeFileSync writes data to name through a temporary file, fsynced and
// renamed into place.
func writeFileSync(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
