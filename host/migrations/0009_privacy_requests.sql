-- Data-subject requests (access, portability, rectification, erasure, restriction, objection):
-- one row per request with its state and deadlines, and its timeline of steps. Ids and dates
-- only: how the person's identity was verified is a method's name, never a document.
CREATE TABLE privacy_requests (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    kind           TEXT NOT NULL,
    regime         TEXT NOT NULL,
    state          TEXT NOT NULL,
    received_at    BIGINT NOT NULL,
    -- Dates as YYYY-MM-DD (UTC).
    acknowledge_by TEXT,
    answer_by      TEXT NOT NULL,
    extended_to    TEXT NOT NULL,
    verification   TEXT NOT NULL DEFAULT '',
    opened_by      TEXT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX privacy_requests_queue ON privacy_requests (tenant_id, state, answer_by);

CREATE TABLE privacy_request_steps (
    request_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    step       TEXT NOT NULL,
    state      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (request_id, seq)
);
