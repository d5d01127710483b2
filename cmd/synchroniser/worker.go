package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/synchroniser/synchroniser/internal/queue"
	"github.com/synchroniser/synchroniser/internal/web"
)

func init() {
	commands["worker"] = command{"workers only (several machines, one PostgreSQL)", runWorker}
}

// runWorker is `synchroniser worker [--config FILE] [--data-dir DIR] [--id NAME]`:
// it runs sync workers and no HTTP service. Several workers, on one machine
// or many, share the queue through one PostgreSQL database; each keeps its
// own cache (a cold cache clones). SIGTERM lets running syncs finish for the
// grace period, then hands them back to the queue.
func runWorker(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "this worker's own data `dir` for its cache (the database stays the configured one); default: data_dir")
	id := fs.String("id", "", "worker `name`, stable across restarts: it decides which mirrors this worker is home of; default: host-pid")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: synchroniser worker [--config FILE] [--data-dir DIR] [--id NAME]")
		fs.PrintDefaults()
	}
	cfg, code := parseConfigFlags(fs, args, stderr)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg, stderr)
	if cfg.DatabaseKind() != "postgres" {
		log.Warn("worker on SQLite: only processes on this machine can share the database; set database_url to PostgreSQL for several machines",
			"database", cfg.SQLitePath())
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			log.Error("cannot create the data dir", "dir", cfg.DataDir, "err", err)
			return 1
		}
	}
	// The database is the shared one (data_dir's SQLite file or
	// database_url); --data-dir moves only this worker's cache.
	st, err := openStore(ctx, cfg)
	if err != nil {
		log.Error("cannot open the database", "database", cfg.DatabaseKind(), "err", err)
		return 1
	}
	defer st.Close()
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := os.MkdirAll(cfg.CacheDir(), 0o750); err != nil {
		log.Error("cannot create the cache dir", "dir", cfg.CacheDir(), "err", err)
		return 1
	}
	if *id == "" && cfg.DatabaseKind() == "postgres" {
		log.Warn("no --id: this worker is named host-pid, so a restart gives it another name and moves its mirrors (each is cloned again at its new home); give each worker a stable --id")
	}
	qcfg := queueConfig(cfg, st, log)
	qcfg.ID = *id
	qcfg.Syncer = &queueSyncer{cfg: cfg, syncer: newSyncer(cfg, log), metrics: web.NewMetrics(),
		classes: newClassBook(), apps: newAppTokens(cfg), log: log}
	q, err := queue.New(ctx, qcfg)
	if err != nil {
		log.Error("cannot start the queue", "err", err)
		return 1
	}
	log.Info("synchroniser worker running", "database", cfg.DatabaseKind(), "cache", cfg.CacheDir(),
		"workers", cfg.Limits.ConcurrentSyncs, "mirrors", len(cfg.Mirror), "config", configName(cfg), "version", version)
	if err := q.Run(ctx); err != nil {
		log.Error("worker stopped with an error", "err", err)
		return 1
	}
	log.Info("worker stopped")
	return 0
}
