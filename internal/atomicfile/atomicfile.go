// Package atomicfile replaces files so that a reader, or a crash, sees the
// old content or the new one and never a torn file: the new content goes to a
// temporary file in the same directory, which is synced and renamed over the
// old one.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write replaces the file at path with what write writes. The temporary file
// is named by pattern (as for os.CreateTemp) and made with os.CreateTemp's
// mode (0600). With durable the directory is synced after the rename too, so
// that the rename itself survives a crash. On an error the temporary file is
// removed and path is left as it was.
func Write(path, pattern string, durable bool, write func(io.Writer) error) error {
	return replace(path, pattern, true, durable, write)
}

// WriteFileUnsynced is WriteFile without syncing anything: a reader sees
// the old content or the new, but after a crash the file may be empty. Only
// for files derived again on every run by a writer that rewrites what
// differs (the loose refs a conversion writes: syncing one file per ref
// cost 10,000 bookmarks 10 seconds).
func WriteFileUnsynced(path, pattern string, data []byte) error {
	return replace(path, pattern, false, false, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// replace is Write; syncFile syncs the temporary file before the rename,
// syncDir the directory after it.
func replace(path, pattern string, syncFile, syncDir bool, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if syncFile {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if syncDir {
		return SyncDir(dir)
	}
	return nil
}

// WriteFile is Write with data for the content.
func WriteFile(path, pattern string, durable bool, data []byte) error {
	return Write(path, pattern, durable, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteReadable replaces path with data readable by everyone (0644), as
// git and hg make the files of a repository; the temporary file is
// ".NAME.tmp*" beside it.
func WriteReadable(path string, data []byte, durable bool) error {
	return Write(path, "."+filepath.Base(path)+".tmp*", durable, func(w io.Writer) error {
		if f, ok := w.(*os.File); ok {
			if err := f.Chmod(0o644); err != nil {
				return err
			}
		}
		_, err := w.Write(data)
		return err
	})
}

// SyncDir fsyncs a directory so that renames in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
