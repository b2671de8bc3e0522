-- Tenant plugins: the installed component (bytes kept, so every host runs the same ones), its
-- manifest, what an admin granted, its limits and state.
CREATE TABLE plugins (
    tenant_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    wit_version   TEXT NOT NULL,
    component     BLOB NOT NULL,
    manifest_json TEXT NOT NULL,
    grants_json   TEXT NOT NULL,
    limits_json   TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')),
    signed_by     TEXT,
    installed_at  BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Every version ever installed: a name/version pair is never installed twice.
CREATE TABLE plugin_uploads (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name, version)
);

-- Plugins' own documents, sealed (under the customer's subject key when about a customer, so an
-- erasure shreds them; the rows also go with the customer).
CREATE TABLE plugin_records (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    collection  TEXT NOT NULL,
    customer_id TEXT REFERENCES customers(id) ON DELETE CASCADE,
    data        BLOB NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX plugin_records_list ON plugin_records (tenant_id, plugin, collection, created_at, id);

-- Blind indexes of documents' indexed fields (keyed hashes, never values).
CREATE TABLE plugin_record_index (
    record_id TEXT NOT NULL REFERENCES plugin_records(id) ON DELETE CASCADE,
    field     TEXT NOT NULL,
    bidx      TEXT NOT NULL,
    PRIMARY KEY (record_id, field)
);
CREATE INDEX plugin_record_index_bidx ON plugin_record_index (field, bidx);

CREATE TABLE plugin_logs (
    tenant_id TEXT NOT NULL,
    plugin    TEXT NOT NULL,
    at        BIGINT NOT NULL,
    line      BIGINT NOT NULL,
    level     TEXT NOT NULL,
    message   TEXT NOT NULL
);
CREATE INDEX plugin_logs_by ON plugin_logs (tenant_id, plugin, at, line);

-- Events of successful plugin calls, waiting for delivery to subscribers.
CREATE TABLE plugin_events (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    topic       TEXT NOT NULL,
    source      TEXT NOT NULL,
    customer_id TEXT,
    payload     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
);

-- Publisher keys (Ed25519) a tenant trusts, and whether it requires signed plugins.
CREATE TABLE publisher_keys (
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    public_key TEXT NOT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE plugin_trust (
    tenant_id         TEXT PRIMARY KEY,
    require_signature BIGINT NOT NULL
);
