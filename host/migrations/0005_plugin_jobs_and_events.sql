-- Plugins' scheduled jobs and event deliveries. Jobs: one row per declared job, kept in step with the manifest at install and
-- upgrade. `scheduled_at` is the time the pending run was due (what the plugin is told, so a retry
-- sees the same day); `run_at` is when a host should start it (later than `scheduled_at` while
-- backing off after a failure); a host that runs it holds `lease_until`, so with several hosts on
-- one database each run happens once.
CREATE TABLE plugin_jobs (
    tenant_id      TEXT NOT NULL,
    plugin         TEXT NOT NULL,
    job            TEXT NOT NULL,
    schedule       TEXT NOT NULL,
    scheduled_at   BIGINT,
    run_at         BIGINT,
    attempt        BIGINT NOT NULL,
    lease_until    BIGINT,
    last_run_at    BIGINT,
    last_status    TEXT,
    last_processed BIGINT,
    last_message   TEXT,
    PRIMARY KEY (tenant_id, plugin, job)
);
CREATE INDEX plugin_jobs_due ON plugin_jobs (run_at);

-- Each event of the outbox, once per subscribing plugin (fanned out when the event is written):
-- pending until `on-event` succeeds, retried with back-off, dropped when the customer it names was
-- erased meanwhile. A host delivering it holds `lease_until`.
CREATE TABLE plugin_event_deliveries (
    event_id    TEXT NOT NULL REFERENCES plugin_events(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dropped')),
    attempt     BIGINT NOT NULL,
    run_at      BIGINT,
    lease_until BIGINT,
    last_error  TEXT,
    finished_at BIGINT,
    PRIMARY KEY (event_id, plugin)
);
CREATE INDEX plugin_event_deliveries_due ON plugin_event_deliveries (run_at);
