-- Tenant policy sets: every published version is kept; one is active per tenant.
CREATE TABLE policy_versions (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    version    BIGINT NOT NULL,
    files      TEXT NOT NULL,
    digest     TEXT NOT NULL,
    author     TEXT NOT NULL,
    note       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE policy_active (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants(id),
    version      BIGINT NOT NULL,
    activated_at BIGINT NOT NULL
);

-- Decision log (OPA decision-log style): input digest, policy versions, result, latency. No input itself.
CREATE TABLE decision_log (
    tenant_id      TEXT NOT NULL,
    at             BIGINT NOT NULL,
    action         TEXT NOT NULL,
    input_digest   TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    allow          BIGINT NOT NULL,
    reasons        TEXT NOT NULL,
    micros         BIGINT NOT NULL
);
CREATE INDEX decision_log_tenant_at ON decision_log (tenant_id, at);
