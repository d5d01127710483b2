-- Leases and ref states (issue 10). Times are unix microseconds (UTC).
-- ref_lease: what each mirror last pushed to each destination ref (a
-- rewrite or deletion goes ahead only while the destination still holds
-- it), and the ref's last rewrite.
CREATE TABLE ref_lease (
    mirror         TEXT   NOT NULL,
    ref            TEXT   NOT NULL,
    value          TEXT   NOT NULL,
    pushed_at      BIGINT NOT NULL DEFAULT 0,
    rewritten_from TEXT   NOT NULL DEFAULT '',
    rewritten_at   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (mirror, ref)
);

-- mirror_refs: every ref of a mirror as its latest sync left it (a JSON
-- array of origin, Git value, state), for the page and the API.
CREATE TABLE mirror_refs (
    mirror     TEXT   PRIMARY KEY,
    refs       TEXT   NOT NULL DEFAULT '[]',
    updated_at BIGINT NOT NULL DEFAULT 0
);
