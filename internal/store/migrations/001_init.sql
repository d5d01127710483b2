-- Sync history, webhook deliveries and per-mirror sync requests.
-- Times are unix microseconds (UTC) in both dialects.
CREATE TABLE sync_run (
    id           BIGSERIAL PRIMARY KEY,
    mirror       TEXT    NOT NULL,
    job_id       BIGINT  NOT NULL DEFAULT 0,
    attempt      INTEGER NOT NULL DEFAULT 0,
    trigger_kind TEXT    NOT NULL DEFAULT '',
    provider     TEXT    NOT NULL DEFAULT '',
    delivery_id  TEXT    NOT NULL DEFAULT '',
    worker       TEXT    NOT NULL DEFAULT '',
    started_at   BIGINT  NOT NULL,
    finished_at  BIGINT,
    outcome      TEXT    NOT NULL,
    changesets   INTEGER NOT NULL DEFAULT 0,
    refs_updated TEXT    NOT NULL DEFAULT '[]',
    warnings     TEXT    NOT NULL DEFAULT '[]',
    error        TEXT    NOT NULL DEFAULT '',
    lag          INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX sync_run_mirror_id ON sync_run (mirror, id);
CREATE INDEX sync_run_job_id ON sync_run (job_id);

CREATE TABLE delivery (
    provider    TEXT   NOT NULL,
    delivery_id TEXT   NOT NULL,
    mirror      TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    job_id      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, delivery_id)
);

CREATE TABLE sync_request (
    mirror        TEXT   PRIMARY KEY,
    seq           BIGINT NOT NULL DEFAULT 0,
    requested_at  BIGINT NOT NULL DEFAULT 0,
    trigger_kind  TEXT   NOT NULL DEFAULT '',
    provider      TEXT   NOT NULL DEFAULT '',
    delivery_id   TEXT   NOT NULL DEFAULT '',
    finishing_job BIGINT NOT NULL DEFAULT 0
);
