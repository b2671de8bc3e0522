-- The consent ledger: every grant and withdrawal of a purpose, never updated (the trigger
-- refuses), removed only with the person (erasure, retention). The evidence (how the consent
-- was collected) is sealed under the customer's subject key.
CREATE TABLE consent_events (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    granted     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    evidence    BLOB,
    wording     TEXT,
    bundled     BIGINT NOT NULL
);
CREATE INDEX consent_events_customer ON consent_events (tenant_id, customer_id, at);
CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;

-- Purposes a tenant marks as needing separate consent (PIPL: sensitive personal information,
-- cross-border transfer, public disclosure): a grant bundled with other purposes is refused.
CREATE TABLE consent_purposes (
    tenant_id   TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    separate    BIGINT NOT NULL,
    note        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, purpose)
);

-- Restriction of processing (GDPR art. 18): the record is kept but not used; the policy reads it.
ALTER TABLE customers ADD COLUMN restricted BIGINT NOT NULL DEFAULT 0;
