//! Staff accounts, sign-in counters and sessions.

use super::{Store, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub tenant_id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password_hash: String,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_pending: Option<Vec<u8>>,
    pub totp_last_step: i64,
    pub lang: String,
    pub created_at: i64,
}

/// Why a sign-in attempt was not claimed: until when.
#[derive(Debug, Clone, Copy)]
pub enum SigninRefusal {
    Locked(i64),
    Throttled(i64),
}

/// A live API token as its owner and admins see it (never the token).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct TokenRow {
    /// The first 16 hex digits of the token's SHA-256: enough to name it, useless to use it.
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub name: String,
    /// Whether the session it was made from had passed two-factor sign-in.
    pub mfa: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A live session or API token joined with its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: String,
    pub tenant_id: String,
    pub user_id: String,
    pub kind: String,
    pub csrf_token: String,
    pub mfa: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub lang: String,
}

const USER_COLS: &str = "id, tenant_id, username, display_name, role, password_hash, totp_secret, \
    totp_pending, totp_last_step, lang, created_at";

impl Store {
    pub async fn insert_user(&self, tx: &mut Tx, u: &UserRow) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO users (id, tenant_id, username, display_name, role, password_hash, totp_secret, \
             totp_pending, totp_last_step, lang, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&u.id)
        .bind(&u.tenant_id)
        .bind(&u.username)
        .bind(&u.display_name)
        .bind(&u.role)
        .bind(&u.password_hash)
        .bind(&u.totp_secret)
        .bind(&u.totp_pending)
        .bind(u.totp_last_step)
        .bind(&u.lang)
        .bind(u.created_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn user_by_name(
        &self,
        tenant_id: &str,
        username: &str,
    ) -> sqlx::Result<Option<UserRow>> {
        sqlx::query_as(&format!(
            "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND username = $2"
        ))
        .bind(tenant_id)
        .bind(username)
        .fetch_optional(self.pool())
        .await
    }

    pub async fn user_by_id(&self, tenant_id: &str, id: &str) -> sqlx::Result<Option<UserRow>> {
        sqlx::query_as(&format!(
            "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    pub async fn users(&self, tenant_id: &str) -> sqlx::Result<Vec<UserRow>> {
        sqlx::query_as(&format!(
            "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 ORDER BY username"
        ))
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await
    }

    /// Claims a sign-in attempt for `key` before the credentials are checked: refused while the
    /// key is locked or throttled; otherwise counted as a failure at once (`next` gives the
    /// counters after `failures` failures), so concurrent attempts cannot outrun the count. A
    /// compare-and-set on the count, retried on a race: each claim sees the one before it.
    pub async fn claim_signin(
        &self,
        key: &str,
        now: i64,
        next: impl Fn(i64, i64) -> (i64, i64, i64),
    ) -> sqlx::Result<Result<(), SigninRefusal>> {
        if now % 97 == 0 {
            // Now and then, forget attempts a day old that lock nothing.
            self.update_one(
                sqlx::query(
                    "DELETE FROM signin_throttles WHERE updated_at < $1 AND locked_until < $2",
                )
                .bind(now - 86_400_000)
                .bind(now),
            )
            .await?;
        }
        loop {
            let row: Option<(i64, i64, i64)> = sqlx::query_as(
                "SELECT failures, next_attempt_at, locked_until FROM signin_throttles WHERE key = $1",
            )
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
            let (failures, next_at, locked) = row.unwrap_or((0, 0, 0));
            if locked > now {
                return Ok(Err(SigninRefusal::Locked(locked)));
            }
            if next_at > now {
                return Ok(Err(SigninRefusal::Throttled(next_at)));
            }
            let (n, next_at, locked) = next(failures, now);
            let claimed = match row {
                None => {
                    self.update_one(
                        sqlx::query(
                            "INSERT INTO signin_throttles (key, failures, next_attempt_at, \
                             locked_until, updated_at) VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (key) DO NOTHING",
                        )
                        .bind(key)
                        .bind(n)
                        .bind(next_at)
                        .bind(locked)
                        .bind(now),
                    )
                    .await?
                }
                Some(_) => {
                    self.update_one(
                        sqlx::query(
                            "UPDATE signin_throttles SET failures = $1, next_attempt_at = $2, \
                             locked_until = $3, updated_at = $4 WHERE key = $5 AND failures = $6",
                        )
                        .bind(n)
                        .bind(next_at)
                        .bind(locked)
                        .bind(now)
                        .bind(key)
                        .bind(failures),
                    )
                    .await?
                }
            };
            if claimed {
                return Ok(Ok(()));
            }
        }
    }

    /// Clears the attempts of `key` after a successful sign-in.
    pub async fn reset_signin(&self, key: &str) -> sqlx::Result<()> {
        self.update_one(
            sqlx::query(
                "UPDATE signin_throttles SET failures = 0, next_attempt_at = 0, locked_until = 0 \
                 WHERE key = $1",
            )
            .bind(key),
        )
        .await?;
        Ok(())
    }

    /// Uses TOTP time step `step` for the user: false if it (or a later one) was used already.
    pub async fn claim_totp_step(&self, user_id: &str, step: i64) -> sqlx::Result<bool> {
        self.update_one(
            sqlx::query(
                "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
            )
            .bind(step)
            .bind(user_id),
        )
        .await
    }

    /// Makes the pending secret the user's second factor; `step` (the code that confirmed it)
    /// cannot be used again to sign in.
    pub async fn confirm_totp(&self, user_id: &str, secret: &[u8], step: i64) -> sqlx::Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE users SET totp_secret = $1, totp_pending = NULL, totp_last_step = $2 WHERE id = $3",
        )
        .bind(secret)
        .bind(step)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Replaces the user's recovery codes (their keyed hashes).
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        now: i64,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for h in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(h)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Uses one recovery code: false if it is not the user's or was used already.
    pub async fn claim_recovery_code(
        &self,
        user_id: &str,
        hash: &str,
        now: i64,
    ) -> sqlx::Result<bool> {
        self.update_one(
            sqlx::query(
                "UPDATE recovery_codes SET used_at = $1 \
                 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .bind(hash),
        )
        .await
    }

    /// How many unused recovery codes the user has.
    pub async fn recovery_codes_left(&self, user_id: &str) -> sqlx::Result<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await
    }

    /// Revokes the user's live sessions of `kinds` (`session`, `api`), except `keep`; how many.
    pub async fn revoke_user_sessions(
        &self,
        user_id: &str,
        kinds: &[&str],
        keep: Option<&str>,
        at: i64,
    ) -> sqlx::Result<u64> {
        let mut revoked = 0;
        let mut tx = self.begin().await?;
        for kind in kinds {
            revoked += sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND kind = $3 \
                 AND revoked_at IS NULL AND token_hash != $4",
            )
            .bind(at)
            .bind(user_id)
            .bind(kind)
            .bind(keep.unwrap_or(""))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(revoked)
    }

    /// The tenant's API tokens that are neither revoked nor expired (of one user, if given).
    pub async fn api_tokens(
        &self,
        tenant_id: &str,
        user_id: Option<&str>,
        now: i64,
    ) -> sqlx::Result<Vec<TokenRow>> {
        sqlx::query_as(
            "SELECT substr(s.token_hash, 1, 16) AS id, s.user_id, u.username, s.name, s.mfa, \
             s.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.tenant_id = $1 AND s.kind = 'api' AND s.revoked_at IS NULL \
             AND s.expires_at > $2 AND ($3 IS NULL OR s.user_id = $3) \
             ORDER BY s.created_at DESC, id",
        )
        .bind(tenant_id)
        .bind(now)
        .bind(user_id)
        .fetch_all(self.pool())
        .await
    }

    /// Revokes the tenant's live API token `id`; its owner, if there was one.
    pub async fn revoke_token(
        &self,
        tenant_id: &str,
        id: &str,
        at: i64,
    ) -> sqlx::Result<Option<String>> {
        let mut tx = self.begin().await?;
        let owner: Option<String> = sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = $1 WHERE tenant_id = $2 AND kind = 'api' \
             AND substr(token_hash, 1, 16) = $3 AND revoked_at IS NULL RETURNING user_id",
        )
        .bind(at)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(owner)
    }

    pub async fn set_totp(
        &self,
        user_id: &str,
        secret: Option<&[u8]>,
        pending: Option<&[u8]>,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET totp_secret = $1, totp_pending = $2 WHERE id = $3")
            .bind(secret)
            .bind(pending)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_lang(&self, user_id: &str, lang: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET lang = $1 WHERE id = $2")
            .bind(lang)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_session(
        &self,
        token_hash: &str,
        tenant_id: &str,
        user_id: &str,
        kind: &str,
        name: &str,
        csrf_token: &str,
        mfa: bool,
        created_at: i64,
        expires_at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, tenant_id, user_id, kind, name, csrf_token, mfa, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(token_hash)
        .bind(tenant_id)
        .bind(user_id)
        .bind(kind)
        .bind(name)
        .bind(csrf_token)
        .bind(mfa as i64)
        .bind(created_at)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> sqlx::Result<Option<SessionRow>> {
        sqlx::query_as(
            "SELECT s.token_hash, s.tenant_id, s.user_id, s.kind, s.csrf_token, s.mfa, s.expires_at, \
             s.revoked_at, u.username, u.display_name, u.role, u.lang \
             FROM sessions s JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id \
             WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await
    }

    pub async fn revoke_session(&self, token_hash: &str, at: i64) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(token_hash)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() > 0)
    }
}
