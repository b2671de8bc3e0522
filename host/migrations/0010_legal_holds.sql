-- Legal holds: while one applies (to a customer, or to the whole tenant when customer_id is
-- NULL), nothing about the customer is erased. Reasons and owners are staff's words about the
-- matter, never the person's data.
CREATE TABLE legal_holds (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    customer_id TEXT,
    reason      TEXT NOT NULL,
    owner       TEXT NOT NULL,
    placed_by   TEXT NOT NULL,
    placed_at   BIGINT NOT NULL,
    released_by TEXT,
    released_at BIGINT
);
CREATE INDEX legal_holds_active ON legal_holds (tenant_id, customer_id, released_at);

-- Every erasure, ids and time only: a restore of an older backup re-applies them.
CREATE TABLE erasure_ledger (
    tenant_id   TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    erased_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
