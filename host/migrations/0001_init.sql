-- Portable SQL (SQLite and PostgreSQL): text ids, integer unix-millisecond times, blobs for ciphertext.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Per-tenant data keys (DEKs), wrapped by the master key. The newest version seals new subject keys.
CREATE TABLE tenant_keys (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    version     BIGINT NOT NULL,
    wrapped_dek BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- Per-subject keys, wrapped by a tenant DEK. Deleting a row crypto-shreds everything sealed under it.
CREATE TABLE subject_keys (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    subject_id  TEXT NOT NULL,
    dek_version BIGINT NOT NULL,
    key_version BIGINT NOT NULL,
    wrapped_key BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject_id)
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    username        TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    totp_secret     BLOB,
    totp_pending    BLOB,
    totp_last_step  BIGINT NOT NULL DEFAULT 0,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    lang            TEXT NOT NULL DEFAULT 'en',
    created_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, username)
);

-- Browser sessions and API tokens; only a SHA-256 of the token is stored.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    csrf_token  TEXT NOT NULL,
    mfa         BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Personal fields are AES-256-GCM ciphertexts under the customer's subject key; *_masked hold the
-- masked rendering, sealed the same way, so a masked read never decrypts the full value.
CREATE TABLE customers (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    region            TEXT NOT NULL,
    name              BLOB NOT NULL,
    name_masked       BLOB NOT NULL,
    email             BLOB,
    email_masked      BLOB,
    phone             BLOB,
    phone_masked      BLOB,
    address           BLOB,
    address_masked    BLOB,
    birth_date        BLOB,
    birth_date_masked BLOB,
    notes             BLOB,
    notes_masked      BLOB,
    email_bidx        TEXT,
    phone_bidx        TEXT,
    -- Copies of customer_tags / consents as JSON, so a read needs one query (the tables serve filters).
    tags_json         TEXT NOT NULL DEFAULT '[]',
    consents_json     TEXT NOT NULL DEFAULT '{}',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX customers_tenant_region ON customers (tenant_id, region, id);
CREATE UNIQUE INDEX customers_email_bidx ON customers (tenant_id, email_bidx) WHERE email_bidx IS NOT NULL;
CREATE INDEX customers_phone_bidx ON customers (tenant_id, phone_bidx);

CREATE TABLE customer_tags (
    tenant_id   TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (tenant_id, tag);

CREATE TABLE consents (
    tenant_id   TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    granted     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (customer_id, purpose)
);

CREATE TABLE interactions (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    summary     BLOB NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX interactions_customer ON interactions (tenant_id, customer_id, created_at);

-- Append-only, hash-chained per tenant ('' is the platform's own chain). Ids only, never plaintext.
CREATE TABLE audit_log (
    tenant_id      TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    resource       TEXT NOT NULL,
    decision       TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    detail         TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- The newest record of each chain, so truncation of the tail is detected too.
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL
);
