-- Access and portability archives: built in the background, sealed under the customer's subject
-- key (so an erasure shreds them with everything else), downloadable until they expire.
CREATE TABLE privacy_exports (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('building', 'ready', 'failed')),
    done        BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    archive     BLOB,
    bytes       BIGINT,
    error       TEXT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    downloads   BIGINT NOT NULL DEFAULT 0,
    last_download_at BIGINT
);
CREATE INDEX privacy_exports_request ON privacy_exports (tenant_id, request_id);

-- Finding the audit records about one thing (a customer, a document) without a tenant scan.
CREATE INDEX audit_log_resource ON audit_log (tenant_id, resource);
