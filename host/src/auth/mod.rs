//! Staff authentication: argon2id passwords, TOTP, session and API tokens, sign-in throttling.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm as TotpAlgorithm, Secret, TOTP};

/// Roles every tenant has.
pub const ROLES: [&str; 5] = ["admin", "compliance", "sales", "support", "marketing"];

/// Browser sessions last a working day; API tokens until their chosen expiry.
pub const SESSION_TTL_MS: i64 = 8 * 3600 * 1000;

/// Failures that are free before throttling starts, and the count that locks the account.
const FREE_FAILURES: i64 = 3;
const LOCKOUT_FAILURES: i64 = 10;
const LOCKOUT_MS: i64 = 15 * 60 * 1000;

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a password is refused; the message is shown to the person choosing it.
pub fn check_password_strength(password: &str, username: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < 12 {
        return Err("the password must have at least 12 characters".into());
    }
    if len > 256 {
        return Err("the password must have at most 256 characters".into());
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if classes < 3 && len < 16 {
        return Err(
            "the password needs three of: lower case, upper case, digits, symbols (or 16+ characters)"
                .into(),
        );
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("the password must not contain the username".into());
    }
    let distinct: std::collections::HashSet<char> = password.chars().collect();
    if distinct.len() < 6 {
        return Err("the password is too repetitive".into());
    }
    Ok(())
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// Burns the same time as a real check, so unknown usernames cannot be told apart by timing.
pub fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("dummy-password-for-timing").unwrap_or_default());
    let _ = verify_password(password, hash);
}

/// A random token (256 bits, URL-safe) for sessions, API tokens and CSRF.
pub fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    format!("{prefix}{}", B64URL.encode(b))
}

/// How tokens are stored: never the token itself.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random TOTP secret (base32, 160 bits).
pub fn new_totp_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret_b32: &str, account: &str) -> anyhow::Result<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|_| anyhow::anyhow!("stored TOTP secret is not base32"))?;
    TOTP::new(
        TotpAlgorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some("Broadcaster CRM".into()),
        account.to_string(),
    )
    .map_err(|e| anyhow::anyhow!("TOTP secret rejected: {e}"))
}

/// The `otpauth://` URL an authenticator app scans.
pub fn totp_url(secret_b32: &str, account: &str) -> anyhow::Result<String> {
    Ok(totp(secret_b32, account)?.get_url())
}

/// The current code for a secret (demo scripts and tests sign in with it).
pub fn totp_now(secret_b32: &str) -> anyhow::Result<String> {
    Ok(totp(secret_b32, "x")?.generate_current()?)
}

/// Checks a code (±1 step of skew) and returns its time step; a step at or before `last_step`
/// is refused so a code cannot be replayed.
pub fn check_totp(secret_b32: &str, code: &str, last_step: i64) -> Option<i64> {
    let t = totp(secret_b32, "x").ok()?;
    let code = code.trim();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    for skew in [0i64, -1, 1] {
        let at = (now as i64 + skew * 30).max(0) as u64;
        let step = (at / 30) as i64;
        if step > last_step && t.generate(at) == code {
            return Some(step);
        }
    }
    None
}

/// What a failed attempt costs: `(failed_attempts, next_attempt_at, locked_until)`.
pub fn throttle_after_failure(previous_failures: i64, now: i64) -> (i64, i64, i64) {
    let n = previous_failures + 1;
    if n >= LOCKOUT_FAILURES {
        return (n, now + LOCKOUT_MS, now + LOCKOUT_MS);
    }
    let delay = if n > FREE_FAILURES {
        1000i64 << (n - FREE_FAILURES - 1).min(10)
    } else {
        0
    };
    (n, now + delay, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_strength_rule() {
        assert!(check_password_strength("short", "bob").is_err());
        assert!(check_password_strength("alllowercaseletters", "bob").is_ok());
        assert!(check_password_strength("lowercaseonly", "bob").is_err());
        assert!(check_password_strength("Bob-is-great-2026", "bob").is_err());
        assert!(check_password_strength("aaaaaaaaaaaaaaaaaaaa", "bob").is_err());
        assert!(check_password_strength("Correct-Horse-42", "bob").is_ok());
    }

    #[test]
    fn argon2id_round_trip() {
        let h = hash_password("Correct-Horse-42").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Correct-Horse-42", &h));
        assert!(!verify_password("Correct-Horse-43", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn totp_codes_check_and_do_not_replay() {
        let secret = new_totp_secret();
        let code = totp_now(&secret).unwrap();
        let step = check_totp(&secret, &code, 0).expect("current code accepted");
        assert!(check_totp(&secret, &code, step).is_none(), "replay refused");
        assert!(check_totp(&secret, "000000x", 0).is_none());
        let wrong = if code == "123456" { "654321" } else { "123456" };
        assert!(check_totp(&secret, wrong, 0).is_none() || wrong == code);
    }

    #[test]
    fn throttle_grows_then_locks() {
        assert_eq!(throttle_after_failure(0, 0), (1, 0, 0));
        assert_eq!(throttle_after_failure(3, 0), (4, 1000, 0));
        assert_eq!(throttle_after_failure(5, 0), (6, 4000, 0));
        let (n, _, locked) = throttle_after_failure(9, 0);
        assert_eq!(n, 10);
        assert_eq!(locked, LOCKOUT_MS);
    }
}
