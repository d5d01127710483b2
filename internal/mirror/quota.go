package mirror

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// EnforceQuota keeps the caches under quota bytes: it marks keep as just
// used, then removes the least recently used other mirrors' caches (those
// not being synced: their lock must be free) until the total fits. A
// removed cache is cloned again by its next sync.
func EnforceQuota(ctx context.Context, cacheDir string, quota int64, keep string, log *slog.Logger) {
	now := time.Now()
	_ = os.Chtimes(filepath.Join(cacheDir, keep), now, now) // last use, for LRU
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		log.Warn("cache quota: cannot read the cache dir", "dir", cacheDir, "err", err)
		return
	}
	type cache struct {
		name string
		size int64
		used time.Time
	}
	var caches []cache
	var total int64
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		size := dirSize(filepath.Join(cacheDir, e.Name()))
		caches = append(caches, cache{e.Name(), size, info.ModTime()})
		total += size
	}
	if total <= quota {
		return
	}
	slices.SortFunc(caches, func(a, b cache) int { return a.used.Compare(b.used) })
	for _, c := range caches {
		if total <= quota {
			break
		}
		if c.name == keep {
			continue
		}
		dir := filepath.Join(cacheDir, c.name)
		lctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		unlock, err := Lock(lctx, dir)
		cancel()
		if err != nil {
			continue // being synced: not idle, not evictable
		}
		err = os.RemoveAll(dir)
		unlock()
		if err != nil {
			log.Warn("cache quota: cannot remove a cache", "mirror", c.name, "err", err)
			continue
		}
		total -= c.size
		log.Info("cache quota: removed the least recently used cache", "mirror", c.name, "bytes", c.size, "quota", quota)
	}
	if total > quota {
		log.Warn("cache quota exceeded by caches in use", "bytes", total, "quota", quota)
	}
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
