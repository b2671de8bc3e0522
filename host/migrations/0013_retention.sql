-- A tenant's privacy settings (its deadline periods and retention schedule) as one JSON
-- document, checked by the host before it is stored.
CREATE TABLE privacy_settings (
    tenant_id  TEXT PRIMARY KEY,
    settings   TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every retention run, dry or applied, with its counts per category (no ids of what went).
CREATE TABLE retention_runs (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    at        BIGINT NOT NULL,
    applied   BIGINT NOT NULL,
    run_by    TEXT NOT NULL,
    report    TEXT NOT NULL
);
CREATE INDEX retention_runs_tenant ON retention_runs (tenant_id, at);
