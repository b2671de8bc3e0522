//! The backup archive: a manifest in the clear (ids, counts and hashes: no personal data, no key)
//! authenticated by an HMAC, then the snapshot as a stream of AES-256-GCM chunks.
//!
//! ```text
//! "CRMBACKUP1" | u32 manifest length | manifest JSON | HMAC-SHA256(mac key, magic ‖ manifest)
//! { u32 length | AES-256-GCM(enc key, nonce = prefix(7) ‖ u32 index ‖ last?1:0,
//!                            aad = SHA-256(manifest), ≤ 1 MiB of the snapshot) }*
//! ```
//!
//! The chunk index in the nonce refuses reordered or dropped chunks, the last-chunk flag a
//! truncated archive, the manifest hash in every chunk's AAD a chunk moved from another archive.
//! The backup key is never in the archive: derived from the master key unless one is given.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::vault::{Key, Vault};

pub const MAGIC: &[u8; 10] = b"CRMBACKUP1";
/// The format this host writes and reads.
pub const FORMAT: u32 = 1;
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 1 << 20;
const TAG: usize = 16;
const MAX_MANIFEST: u32 = 4 << 20;

/// The keys an archive is sealed and authenticated with.
pub struct BackupKey {
    enc: Key,
    mac: Key,
}

impl BackupKey {
    /// The deployment's backup key, derived from its master key (which is never in a backup).
    pub fn from_vault(vault: &Vault) -> Self {
        Self::from_secret(&vault.backup_secret())
    }

    /// A backup key of its own (32 bytes), kept apart from the master key.
    pub fn from_secret(secret: &Key) -> Self {
        Self {
            enc: secret.derive("crm backup v1 encryption"),
            mac: secret.derive("crm backup v1 manifest"),
        }
    }

    /// A short public fingerprint, so that a wrong key is named as such.
    pub fn id(&self) -> String {
        hex::encode(&self.mac_of(&[b"crm backup key id"])[..8])
    }

    fn mac_of(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.mac.as_bytes())
            .expect("HMAC takes any key length");
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
}

/// Counts of one tenant's data at the snapshot (compared on verify).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    pub customers: i64,
    pub interactions: i64,
    pub plugin_records: i64,
    pub audit_records: i64,
    pub erasures: i64,
}

/// One part of the archive (this format has one: the database).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Part {
    pub name: String,
    pub bytes: u64,
    /// SHA-256 of the part's plaintext, hex.
    pub sha256: String,
}

/// What an archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    pub format: u32,
    /// Milliseconds since the epoch: the snapshot's consistent point (writes committed before it
    /// are in it).
    pub snapshot_at: i64,
    /// RFC 3339, for people.
    pub created_at: String,
    pub source_host: String,
    /// The newest migration applied to the snapshot.
    pub schema_version: i64,
    pub key_id: String,
    /// The nonce prefix of this archive's chunks (hex, 7 bytes).
    pub nonce_prefix: String,
    pub parts: Vec<Part>,
    pub tenants: BTreeMap<String, Counts>,
}

/// Why an archive cannot be read, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a backup archive (it does not start with CRMBACKUP1)")]
    NotAnArchive,
    #[error("the archive is truncated: {0}")]
    Truncated(String),
    #[error(
        "the archive was made with another backup key (its key id is {archive}, this one's is {ours})"
    )]
    WrongKey { archive: String, ours: String },
    #[error("the archive is corrupted or was altered: {0}")]
    Corrupted(String),
    #[error("reading or writing the archive failed: {0}")]
    Io(#[from] std::io::Error),
}

fn nonce(prefix: &[u8; 7], index: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Reads up to `buf.len()` bytes (fewer only at the end).
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Writes an archive of `plain` (the part `manifest.parts[0]` describes) to `out`.
pub fn write(
    out: &mut impl Write,
    manifest: &Manifest,
    key: &BackupKey,
    plain: &mut impl Read,
) -> Result<(), ArchiveError> {
    let body = serde_json::to_vec(manifest).map_err(std::io::Error::other)?;
    out.write_all(MAGIC)?;
    out.write_all(&(body.len() as u32).to_le_bytes())?;
    out.write_all(&body)?;
    out.write_all(&key.mac_of(&[MAGIC, &body]))?;
    let aad = Sha256::digest(&body);
    let prefix: [u8; 7] = hex::decode(&manifest.nonce_prefix)
        .ok()
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| ArchiveError::Corrupted("bad nonce prefix".into()))?;
    let cipher = Aes256Gcm::new_from_slice(key.enc.as_bytes()).expect("32-byte key");
    let mut current = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut len = fill(plain, &mut current)?;
    let mut index: u32 = 0;
    loop {
        let next_len = if len == CHUNK {
            fill(plain, &mut next)?
        } else {
            0
        };
        let last = next_len == 0;
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce(&prefix, index, last)),
                Payload {
                    msg: &current[..len],
                    aad: &aad,
                },
            )
            .map_err(|_| ArchiveError::Corrupted("encryption failed".into()))?;
        out.write_all(&(ct.len() as u32).to_le_bytes())?;
        out.write_all(&ct)?;
        if last {
            return Ok(());
        }
        std::mem::swap(&mut current, &mut next);
        len = next_len;
        index = index
            .checked_add(1)
            .ok_or_else(|| ArchiveError::Corrupted("too many chunks".into()))?;
    }
}

/// Reads and authenticates the manifest: a wrong key and an altered manifest are told apart.
pub fn read_manifest(
    r: &mut impl Read,
    key: &BackupKey,
) -> Result<(Manifest, Vec<u8>), ArchiveError> {
    let mut magic = [0u8; 10];
    if fill(r, &mut magic)? < magic.len() || &magic != MAGIC {
        return Err(ArchiveError::NotAnArchive);
    }
    let mut len = [0u8; 4];
    if fill(r, &mut len)? < 4 {
        return Err(ArchiveError::Truncated("in the manifest".into()));
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_MANIFEST {
        return Err(ArchiveError::Corrupted(
            "the manifest's length is implausible".into(),
        ));
    }
    let mut body = vec![0u8; len as usize];
    let mut mac = [0u8; 32];
    if fill(r, &mut body)? < body.len() || fill(r, &mut mac)? < mac.len() {
        return Err(ArchiveError::Truncated("in the manifest".into()));
    }
    let manifest: Manifest = serde_json::from_slice(&body)
        .map_err(|_| ArchiveError::Corrupted("the manifest is not valid".into()))?;
    if manifest.key_id != key.id() {
        return Err(ArchiveError::WrongKey {
            archive: manifest.key_id,
            ours: key.id(),
        });
    }
    let expected = key.mac_of(&[MAGIC, &body]);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &mac[..])) {
        return Err(ArchiveError::Corrupted(
            "the manifest does not match its MAC".into(),
        ));
    }
    if manifest.format != FORMAT || manifest.parts.len() != 1 {
        return Err(ArchiveError::Corrupted(format!(
            "format {} with {} parts is not one this host reads",
            manifest.format,
            manifest.parts.len()
        )));
    }
    Ok((manifest, body))
}

/// Decrypts the snapshot into `out`, checking every chunk, the end, the size and the hash.
pub fn decrypt(
    r: &mut impl Read,
    manifest: &Manifest,
    body: &[u8],
    key: &BackupKey,
    out: &mut impl Write,
) -> Result<(), ArchiveError> {
    let aad = Sha256::digest(body);
    let prefix: [u8; 7] = hex::decode(&manifest.nonce_prefix)
        .ok()
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| ArchiveError::Corrupted("bad nonce prefix".into()))?;
    let cipher = Aes256Gcm::new_from_slice(key.enc.as_bytes()).expect("32-byte key");
    let mut hash = Sha256::new();
    let mut bytes: u64 = 0;
    let mut index: u32 = 0;
    loop {
        let mut len = [0u8; 4];
        match fill(r, &mut len)? {
            0 => {
                return Err(ArchiveError::Truncated(format!(
                    "it ends before its last chunk (after {index})"
                )));
            }
            4 => {}
            _ => return Err(ArchiveError::Truncated(format!("in chunk {index}"))),
        }
        let len = u32::from_le_bytes(len) as usize;
        if !(TAG..=CHUNK + TAG).contains(&len) {
            return Err(ArchiveError::Corrupted(format!(
                "chunk {index} has an impossible length"
            )));
        }
        let mut ct = vec![0u8; len];
        if fill(r, &mut ct)? < len {
            return Err(ArchiveError::Truncated(format!("in chunk {index}")));
        }
        let open = |last: bool| {
            cipher.decrypt(
                Nonce::from_slice(&nonce(&prefix, index, last)),
                Payload {
                    msg: &ct,
                    aad: &aad,
                },
            )
        };
        let (plain, last) = match open(false) {
            Ok(p) => (p, false),
            Err(_) => match open(true) {
                Ok(p) => (p, true),
                Err(_) => {
                    return Err(ArchiveError::Corrupted(format!(
                        "chunk {index} does not decrypt (altered, reordered or from another archive)"
                    )));
                }
            },
        };
        hash.update(&plain);
        bytes += plain.len() as u64;
        out.write_all(&plain)?;
        if last {
            let mut extra = [0u8; 1];
            if fill(r, &mut extra)? != 0 {
                return Err(ArchiveError::Corrupted(
                    "bytes follow the last chunk".into(),
                ));
            }
            break;
        }
        index = index
            .checked_add(1)
            .ok_or_else(|| ArchiveError::Corrupted("too many chunks".into()))?;
    }
    let part = &manifest.parts[0];
    if bytes != part.bytes || hex::encode(hash.finalize()) != part.sha256 {
        return Err(ArchiveError::Corrupted(format!(
            "{} does not match the manifest's size and SHA-256",
            part.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(key: &BackupKey, data: &[u8]) -> Manifest {
        Manifest {
            format: FORMAT,
            snapshot_at: 1,
            created_at: "1970-01-01T00:00:00Z".into(),
            source_host: "test".into(),
            schema_version: 13,
            key_id: key.id(),
            nonce_prefix: "00112233445566".into(),
            parts: vec![Part {
                name: "crm.db".into(),
                bytes: data.len() as u64,
                sha256: hex::encode(Sha256::digest(data)),
            }],
            tenants: BTreeMap::new(),
        }
    }

    fn round_trip(archive: &[u8], key: &BackupKey) -> Result<Vec<u8>, ArchiveError> {
        let mut r = archive;
        let (m, body) = read_manifest(&mut r, key)?;
        let mut out = Vec::new();
        decrypt(&mut r, &m, &body, key, &mut out)?;
        Ok(out)
    }

    #[test]
    fn archives_round_trip_and_every_kind_of_damage_is_named() {
        let key = BackupKey::from_secret(&Key::random());
        // Two full chunks and a bit: the last-chunk flag and the index both matter.
        let data: Vec<u8> = (0..(2 * CHUNK + 77)).map(|i| (i % 251) as u8).collect();
        let mut archive = Vec::new();
        write(&mut archive, &manifest(&key, &data), &key, &mut &data[..]).unwrap();
        assert_eq!(round_trip(&archive, &key).unwrap(), data);
        // An exact multiple of the chunk size and an empty part too.
        for size in [CHUNK, 0] {
            let d = vec![7u8; size];
            let mut a = Vec::new();
            write(&mut a, &manifest(&key, &d), &key, &mut &d[..]).unwrap();
            assert_eq!(round_trip(&a, &key).unwrap(), d);
        }

        let mut flipped = archive.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 1;
        assert!(matches!(
            round_trip(&flipped, &key),
            Err(ArchiveError::Corrupted(_))
        ));
        let truncated = &archive[..archive.len() - CHUNK / 2];
        assert!(matches!(
            round_trip(truncated, &key),
            Err(ArchiveError::Truncated(_))
        ));
        // Cut exactly at a chunk boundary: the last chunk's flag is missing.
        let boundary = archive.len() - (77 + TAG + 4);
        assert!(matches!(
            round_trip(&archive[..boundary], &key),
            Err(ArchiveError::Truncated(_))
        ));
        let other = BackupKey::from_secret(&Key::random());
        assert!(matches!(
            round_trip(&archive, &other),
            Err(ArchiveError::WrongKey { .. })
        ));
        let mut manifest_flip = archive.clone();
        manifest_flip[20] ^= 1;
        assert!(matches!(
            round_trip(&manifest_flip, &key),
            Err(ArchiveError::Corrupted(_) | ArchiveError::WrongKey { .. })
        ));
        assert!(matches!(
            round_trip(b"PK\x03\x04", &key),
            Err(ArchiveError::NotAnArchive)
        ));
    }
}
