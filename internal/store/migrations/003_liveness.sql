-- Liveness: the workers that are up (a heartbeat each) and, per mirror, the
-- lease of the sync running now. A worker whose heartbeat is older than the
-- takeover time, or whose process lock is free, is dead: its running jobs are
-- taken over and its mirrors get another home worker.
CREATE TABLE sync_worker (
    id           TEXT   PRIMARY KEY,
    queue        TEXT   NOT NULL,
    host         TEXT   NOT NULL DEFAULT '',
    pid          BIGINT NOT NULL DEFAULT 0,
    cache_dir    TEXT   NOT NULL DEFAULT '',
    state        TEXT   NOT NULL DEFAULT 'live',
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

CREATE TABLE sync_lease (
    mirror       TEXT   PRIMARY KEY,
    worker       TEXT   NOT NULL,
    job_id       BIGINT NOT NULL DEFAULT 0,
    run_id       BIGINT NOT NULL DEFAULT 0,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
CREATE INDEX sync_lease_worker ON sync_lease (worker);
