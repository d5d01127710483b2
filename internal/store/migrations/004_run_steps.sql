-- The wall time of each step of a run (issue 15): a JSON array of
-- {"name": "pull" | "convert" | "push", "us": MICROSECONDS} in the order the
-- steps ran; '[]' for runs recorded before, or that stopped before a step
-- ended.
ALTER TABLE sync_run ADD COLUMN steps TEXT NOT NULL DEFAULT '[]';
