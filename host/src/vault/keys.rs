//! Key material: 256-bit keys zeroized on drop, and the master key's sources.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::VaultError;

/// A 256-bit secret key. Not `Debug`, not `Clone`: it never reaches a log and is wiped on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Key([u8; 32]);

impl Key {
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut k);
        Self(k)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, VaultError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| VaultError::BadKey("a key must be 32 bytes"))?;
        Ok(Self(arr))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A second copy, for a holder that outlives this one (each copy is wiped on its own drop).
    pub fn duplicate(&self) -> Key {
        Key(self.0)
    }

    /// Derives an independent sub-key (HKDF-SHA256) for another purpose.
    pub fn derive(&self, info: &str) -> Key {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(None, &self.0)
            .expand(info.as_bytes(), &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let key = Key(out);
        out.zeroize();
        key
    }
}

/// The key-encryption key that wraps every tenant's data keys.
pub struct MasterKey(pub(crate) Key);

impl MasterKey {
    /// Parses a base64-encoded 32-byte key (the `CRM_MASTER_KEY` format and the key file's content).
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let mut raw = B64
            .decode(text.trim())
            .map_err(|_| VaultError::BadKey("the master key is not valid base64"))?;
        let key = Key::from_slice(&raw);
        raw.zeroize();
        Ok(Self(key.map_err(|_| {
            VaultError::BadKey("the master key must decode to 32 bytes")
        })?))
    }

    /// Loads the key file, or creates it (mode 0600) with a fresh random key if it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        use std::io::Write;
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::from_base64(&text)
                .map_err(|e| anyhow::anyhow!("master key file {}: {e}", path.display()))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Key::random();
                let mut encoded = B64.encode(key.as_bytes());
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut file = opts.open(path).map_err(|e| {
                    anyhow::anyhow!("cannot create master key file {}: {e}", path.display())
                })?;
                file.write_all(encoded.as_bytes())?;
                file.write_all(b"\n")?;
                file.sync_all()?;
                encoded.zeroize();
                Ok(Self(key))
            }
            Err(e) => Err(anyhow::anyhow!(
                "cannot read master key file {}: {e}",
                path.display()
            )),
        }
    }

    pub(crate) fn key(&self) -> &Key {
        &self.0
    }
}

/// The audit trail's keys, derived from the master key and never stored: an HMAC-SHA256 key that
/// chains each tenant's records, and an Ed25519 key that signs checkpoints of the chains' heads.
pub struct AuditKeys {
    chain: Key,
    signing: ed25519_dalek::SigningKey,
}

impl AuditKeys {
    pub(crate) fn derive(master: &MasterKey) -> Self {
        let seed = master.key().derive("crm/audit/checkpoint/v1");
        Self {
            chain: master.key().derive("crm/audit/chain/v1"),
            signing: ed25519_dalek::SigningKey::from_bytes(seed.as_bytes()),
        }
    }

    /// The key records are chained under.
    pub fn chain(&self) -> &Key {
        &self.chain
    }

    /// Signs a checkpoint's message.
    pub fn sign(&self, message: &[u8]) -> ed25519_dalek::Signature {
        use ed25519_dalek::Signer;
        self.signing.sign(message)
    }

    /// The key checkpoints verify with (hex): printed by `crm audit checkpoint`, to keep with them.
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.signing.verifying_key()
    }
}
