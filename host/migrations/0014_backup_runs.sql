-- Backups the server took and the drills that verified them (deployment-wide; no personal data:
-- file names, counts and problems found).
CREATE TABLE backup_runs (
    id      TEXT PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('backup', 'drill')),
    archive TEXT NOT NULL,
    at      BIGINT NOT NULL,
    ok      BIGINT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX backup_runs_at ON backup_runs (kind, at);
