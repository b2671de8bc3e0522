-- Sign-in attempts, counted per tenant and username whether or not such an account exists (so an
-- unknown username is answered and throttled exactly as a real one). An attempt is claimed with a
-- conditional update before the credentials are checked, so concurrent guesses cannot outrun the
-- count. `key` is a SHA-256 of the tenant slug and username, never the username itself.
CREATE TABLE signin_throttles (
    key             TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX signin_throttles_updated ON signin_throttles (updated_at);

-- The per-account counters now live in signin_throttles.
ALTER TABLE users DROP COLUMN failed_attempts;
ALTER TABLE users DROP COLUMN next_attempt_at;
ALTER TABLE users DROP COLUMN locked_until;

-- One-time recovery codes for a lost second factor: a keyed hash of each (the tenant's index key),
-- never the code; a code is used by a conditional update that fails once it has been used.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users(id),
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
