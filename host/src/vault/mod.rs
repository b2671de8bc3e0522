//! Envelope encryption: master key (KEK) → per-tenant data keys (DEKs) → per-subject keys → fields.
//!
//! Every personal field is sealed with AES-256-GCM under its subject's key, with a fresh 96-bit nonce
//! and associated data binding tenant, table, record, field and key version, so a ciphertext copied to
//! another row, field or tenant fails to open. Key material lives in [`Key`], which zeroizes on drop.

mod keys;

pub use keys::{AuditKeys, Key, MasterKey};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Ciphertext format version (first byte of every sealed value).
const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 1 + 4 + 12;

/// Errors never carry plaintext or key material.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext failed its integrity check (wrong key, record or field)")]
    Integrity,
    #[error("key material is invalid: {0}")]
    BadKey(&'static str),
}

/// Where a sealed value lives; all of it is bound into the ciphertext as associated data.
#[derive(Debug, Clone, Copy)]
pub struct FieldRef<'a> {
    pub tenant: &'a str,
    pub table: &'a str,
    pub record: &'a str,
    pub field: &'a str,
}

impl FieldRef<'_> {
    fn aad(&self, key_version: u32) -> Vec<u8> {
        // Length-prefixed parts, so no two different locations share an encoding.
        let mut aad = b"crm/field/v1".to_vec();
        for part in [self.tenant, self.table, self.record, self.field] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad.extend_from_slice(&key_version.to_be_bytes());
        aad
    }
}

/// A versioned 256-bit key that seals values (a tenant DEK or a subject key).
pub struct SealingKey {
    pub version: u32,
    key: Key,
}

impl SealingKey {
    pub fn new(version: u32, key: Key) -> Self {
        Self { version, key }
    }

    /// Generates a fresh random key.
    pub fn generate(version: u32) -> Self {
        Self::new(version, Key::random())
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Seals `plaintext` at `at`: `[format][key version][nonce][ciphertext + tag]`.
    pub fn seal(&self, at: &FieldRef<'_>, plaintext: &[u8]) -> Vec<u8> {
        seal_raw(&self.key, self.version, &at.aad(self.version), plaintext)
    }

    /// Opens a value sealed at `at`; fails if it was sealed anywhere else or under another key.
    pub fn open(&self, at: &FieldRef<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let version = key_version_of(sealed)?;
        if version != self.version {
            return Err(VaultError::Integrity);
        }
        open_raw(&self.key, &at.aad(version), sealed)
    }

    /// Opens a sealed UTF-8 string.
    pub fn open_string(&self, at: &FieldRef<'_>, sealed: &[u8]) -> Result<String, VaultError> {
        let bytes = self.open(at, sealed)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| VaultError::Malformed)
    }
}

/// The key version recorded in a sealed value's header.
pub fn key_version_of(sealed: &[u8]) -> Result<u32, VaultError> {
    if sealed.len() < HEADER_LEN + 16 || sealed[0] != FORMAT_V1 {
        return Err(VaultError::Malformed);
    }
    Ok(u32::from_be_bytes([
        sealed[1], sealed[2], sealed[3], sealed[4],
    ]))
}

fn cipher(key: &Key) -> Aes256Gcm {
    Aes256Gcm::new(key.as_bytes().into())
}

pub(crate) fn seal_raw(key: &Key, version: u32, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher(key)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // AES-GCM encryption only fails for inputs beyond 64 GiB, which never reach here.
        .expect("AES-GCM encryption of an in-memory value");
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

pub(crate) fn open_raw(
    key: &Key,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    key_version_of(sealed)?;
    let nonce = Nonce::from_slice(&sealed[5..HEADER_LEN]);
    cipher(key)
        .decrypt(
            nonce,
            Payload {
                msg: &sealed[HEADER_LEN..],
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| VaultError::Integrity)
}

/// A tenant's unwrapped keys: its data key (wraps subject keys) and its blind-index key.
pub struct TenantKeys {
    pub tenant: String,
    pub dek: SealingKey,
    index_key: Key,
}

impl TenantKeys {
    pub fn new(tenant: String, dek: SealingKey, index_key: Key) -> Self {
        Self {
            tenant,
            dek,
            index_key,
        }
    }

    /// Wraps a subject key under this tenant's current DEK.
    pub fn wrap_subject_key(&self, subject: &str, key: &SealingKey) -> Vec<u8> {
        let aad = subject_aad(&self.tenant, subject, key.version);
        seal_raw(self.dek.key(), self.dek.version, &aad, key.key().as_bytes())
    }

    /// Unwraps a subject key sealed by [`Self::wrap_subject_key`].
    pub fn unwrap_subject_key(
        &self,
        subject: &str,
        key_version: u32,
        wrapped: &[u8],
    ) -> Result<SealingKey, VaultError> {
        if key_version_of(wrapped)? != self.dek.version {
            return Err(VaultError::Integrity);
        }
        let aad = subject_aad(&self.tenant, subject, key_version);
        let raw = open_raw(self.dek.key(), &aad, wrapped)?;
        Ok(SealingKey::new(key_version, Key::from_slice(&raw)?))
    }

    /// Keyed blind index of an already normalised value, for exact-match lookups.
    pub fn blind_index(&self, kind: &str, normalised: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.index_key.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(normalised.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn subject_aad(tenant: &str, subject: &str, key_version: u32) -> Vec<u8> {
    let mut aad = b"crm/subject-key/v1".to_vec();
    for part in [tenant, subject] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad.extend_from_slice(&key_version.to_be_bytes());
    aad
}

/// Wraps tenant data keys with the master key and unwraps them into [`TenantKeys`].
pub struct Vault {
    master: MasterKey,
}

impl Vault {
    pub fn new(master: MasterKey) -> Self {
        Self { master }
    }

    /// Another handle on the same master key, for a second store (a backup being verified).
    pub fn duplicate(&self) -> Vault {
        Vault::new(MasterKey(self.master.key().duplicate()))
    }

    /// The backup key derived from the master key (never stored, never in a backup).
    pub fn backup_secret(&self) -> Key {
        self.master.key().derive("crm backup v1")
    }

    /// The audit trail's keys (derived afresh: they are never stored).
    pub fn audit_keys(&self) -> AuditKeys {
        AuditKeys::derive(&self.master)
    }

    /// A fresh data key for `tenant` at `version`, wrapped for storage.
    pub fn new_wrapped_dek(&self, tenant: &str, version: u32) -> Vec<u8> {
        let dek = Key::random();
        seal_raw(
            self.master.key(),
            version,
            &dek_aad(tenant, version),
            dek.as_bytes(),
        )
    }

    fn unwrap_dek(&self, tenant: &str, version: u32, wrapped: &[u8]) -> Result<Key, VaultError> {
        if key_version_of(wrapped)? != version {
            return Err(VaultError::Integrity);
        }
        let raw = open_raw(self.master.key(), &dek_aad(tenant, version), wrapped)?;
        Key::from_slice(&raw)
    }

    /// Unwraps a tenant's keys from its stored `(version, wrapped DEK)` rows. The newest DEK seals
    /// new subject keys; the blind-index key derives from the first, so indexes survive rotation.
    pub fn tenant_keys(
        &self,
        tenant: &str,
        wrapped: &[(u32, Vec<u8>)],
    ) -> Result<TenantKeys, VaultError> {
        let first = wrapped
            .iter()
            .min_by_key(|(v, _)| *v)
            .ok_or(VaultError::BadKey("the tenant has no data key"))?;
        let newest = wrapped
            .iter()
            .max_by_key(|(v, _)| *v)
            .ok_or(VaultError::BadKey("the tenant has no data key"))?;
        let index_key = self
            .unwrap_dek(tenant, first.0, &first.1)?
            .derive("crm/blind-index/v1");
        let dek = self.unwrap_dek(tenant, newest.0, &newest.1)?;
        Ok(TenantKeys::new(
            tenant.to_string(),
            SealingKey::new(newest.0, dek),
            index_key,
        ))
    }
}

fn dek_aad(tenant: &str, version: u32) -> Vec<u8> {
    let mut aad = b"crm/tenant-dek/v1".to_vec();
    aad.extend_from_slice(&(tenant.len() as u32).to_be_bytes());
    aad.extend_from_slice(tenant.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Lower-cased, trimmed email for the blind index.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Digits with a leading `+`, for the blind index: "+86 138-1234 5678" → "+8613812345678".
pub fn normalise_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(tenant: &'a str, record: &'a str, field: &'a str) -> FieldRef<'a> {
        FieldRef {
            tenant,
            table: "customers",
            record,
            field,
        }
    }

    #[test]
    fn seal_open_round_trip_with_fresh_nonces() {
        let key = SealingKey::generate(1);
        let a = key.seal(&at("t1", "r1", "email"), b"alice@example.com");
        let b = key.seal(&at("t1", "r1", "email"), b"alice@example.com");
        assert_ne!(a, b, "each seal uses a fresh nonce");
        let opened = key.open_string(&at("t1", "r1", "email"), &a).unwrap();
        assert_eq!(opened, "alice@example.com");
        assert!(!a.windows(5).any(|w| w == b"alice"));
    }

    #[test]
    fn ciphertext_bound_to_its_location() {
        let key = SealingKey::generate(1);
        let sealed = key.seal(&at("t1", "r1", "email"), b"alice@example.com");
        for other in [
            at("t2", "r1", "email"),
            at("t1", "r2", "email"),
            at("t1", "r1", "phone"),
        ] {
            assert!(matches!(
                key.open(&other, &sealed),
                Err(VaultError::Integrity)
            ));
        }
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.open(&at("t1", "r1", "email"), &tampered).is_err());
        assert!(matches!(
            key.open(&at("t1", "r1", "email"), b"short"),
            Err(VaultError::Malformed)
        ));
        let other_key = SealingKey::generate(1);
        assert!(other_key.open(&at("t1", "r1", "email"), &sealed).is_err());
    }

    #[test]
    fn subject_keys_wrap_per_tenant_and_subject() {
        let tk = TenantKeys::new("t1".into(), SealingKey::generate(1), Key::random());
        let sk = SealingKey::generate(1);
        let wrapped = tk.wrap_subject_key("s1", &sk);
        let back = tk.unwrap_subject_key("s1", 1, &wrapped).unwrap();
        assert_eq!(back.key().as_bytes(), sk.key().as_bytes());
        assert!(tk.unwrap_subject_key("s2", 1, &wrapped).is_err());
        let other = TenantKeys::new("t2".into(), SealingKey::generate(1), Key::random());
        assert!(other.unwrap_subject_key("s1", 1, &wrapped).is_err());
    }

    #[test]
    fn blind_index_is_keyed_and_normalised() {
        let tk = TenantKeys::new("t1".into(), SealingKey::generate(1), Key::random());
        let other = TenantKeys::new("t1".into(), SealingKey::generate(1), Key::random());
        let a = tk.blind_index("email", &normalise_email(" Alice@Example.com "));
        let b = tk.blind_index("email", &normalise_email("alice@example.com"));
        assert_eq!(a, b);
        assert_ne!(a, other.blind_index("email", "alice@example.com"));
        assert_ne!(a, tk.blind_index("phone", "alice@example.com"));
        assert_eq!(normalise_phone("+86 138-1234 5678"), "+8613812345678");
    }
}
