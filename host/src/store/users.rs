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
    pub failed_attempts: i64,
    pub next_attempt_at: i64,
    pub locked_until: i64,
    pub lang: String,
    pub created_at: i64,
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
    totp_pending, totp_last_step, failed_attempts, next_attempt_at, locked_until, lang, created_at";

impl Store {
    pub async fn insert_user(&self, tx: &mut Tx, u: &UserRow) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO users (id, tenant_id, username, display_name, role, password_hash, totp_secret, \
             totp_pending, totp_last_step, failed_attempts, next_attempt_at, locked_until, lang, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
        .bind(u.failed_attempts)
        .bind(u.next_attempt_at)
        .bind(u.locked_until)
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

    /// Records a failed sign-in and the throttle that now applies.
    pub async fn record_login_failure(
        &self,
        user_id: &str,
        failed_attempts: i64,
        next_attempt_at: i64,
        locked_until: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET failed_attempts = $1, next_attempt_at = $2, locked_until = $3 WHERE id = $4",
        )
        .bind(failed_attempts)
        .bind(next_attempt_at)
        .bind(locked_until)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Clears the failure counters after a successful sign-in and remembers the TOTP step used.
    pub async fn record_login_success(&self, user_id: &str, totp_step: i64) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET failed_attempts = 0, next_attempt_at = 0, locked_until = 0, \
             totp_last_step = CASE WHEN $1 > totp_last_step THEN $1 ELSE totp_last_step END WHERE id = $2",
        )
        .bind(totp_step)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
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
