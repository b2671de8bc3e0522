-- Audit chains are keyed: each record's hash is an HMAC-SHA256 under a key derived from the
-- master key (never stored), so whoever can write the database cannot recompute a chain.
-- `format` 1 marks a chain written by an earlier version in plain SHA-256; `crm audit upgrade`
-- verifies and re-keys it (verify reports such a chain as not yet keyed).
ALTER TABLE audit_heads ADD COLUMN format BIGINT NOT NULL DEFAULT 1;

-- Signed checkpoints of each chain's head (Ed25519 under a key derived from the master key).
-- Kept here and, exported, outside the database: a truncated or replaced chain cannot match one.
CREATE TABLE audit_checkpoints (
    tenant_id TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
