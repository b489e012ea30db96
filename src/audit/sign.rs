//! Signed chain heads: "at entry N the chain's hash was H", signed with Ed25519 (ring, the
//! crypto provider the binary already carries). A head pins every entry up to N: cutting
//! entries off the end, or rewriting the chain from some entry on and re-hashing it, no longer
//! matches a signature made with a key the tamperer does not hold.

use std::path::Path;

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;

use super::{hex, timestamp};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the audit signing key must be 64 hex digits (a 32-byte Ed25519 seed); `switchyard audit keygen` makes one")]
    Malformed,
    #[error("cannot read the audit signing key {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write a new audit signing key to {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

pub struct Signer {
    key: Ed25519KeyPair,
    public: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(public {})", self.public)
    }
}

impl Signer {
    pub fn from_seed_hex(seed: &str) -> Result<Self, KeyError> {
        let seed = unhex(seed.trim()).filter(|s| s.len() == 32).ok_or(KeyError::Malformed)?;
        let key = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| KeyError::Malformed)?;
        let public = hex(key.public_key().as_ref());
        Ok(Self { key, public })
    }

    /// A new key: the signer and its seed (hex), which must be kept secret.
    pub fn generate() -> (Self, String) {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system's random source is available");
        let seed = hex(&seed);
        (Self::from_seed_hex(&seed).expect("a fresh seed is well formed"), seed)
    }

    pub fn public_hex(&self) -> &str {
        &self.public
    }

    pub fn sign(&self, message: &[u8]) -> String {
        hex(self.key.sign(message).as_ref())
    }

    /// The key in `path` (64 hex digits), made and written there (mode 0600) when absent.
    /// Returns whether it was made.
    pub fn from_file_or_create(path: &Path) -> Result<(Self, bool), KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::from_seed_hex(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (signer, seed) = Self::generate();
                write_secret(path, &seed).map_err(|source| KeyError::Write { path: path.display().to_string(), source })?;
                Ok((signer, true))
            }
            Err(source) => Err(KeyError::Read { path: path.display().to_string(), source }),
        }
    }
}

fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(format!("{text}\n").as_bytes())
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// A signed head, as stored in `audit_heads` and copied into export manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
    pub signed_at: String,
    pub public_key: String,
    pub signature: String,
}

impl Head {
    /// The exact bytes signed.
    pub fn statement(seq: i64, hash: &str, signed_at: &str) -> String {
        format!("switchyard audit head v1\nseq {seq}\nhash {hash}\nsigned_at {signed_at}\n")
    }

    /// Whether the signature is this statement signed by `public_key` (hex).
    pub fn signature_valid(&self, public_key: &str) -> bool {
        verify_signature(public_key, Self::statement(self.seq, &self.hash, &self.signed_at).as_bytes(), &self.signature)
    }
}

pub fn verify_signature(public_key: &str, message: &[u8], signature: &str) -> bool {
    match (unhex(public_key), unhex(signature)) {
        (Some(pk), Some(sig)) => UnparsedPublicKey::new(&ED25519, pk).verify(message, &sig).is_ok(),
        _ => false,
    }
}

/// Signs the current head if entries were added since the last signed one. Returns the new
/// head, if any.
pub async fn sign_head(conn: &mut SqliteConnection, signer: &Signer) -> Result<Option<Head>, StoreError> {
    let Some((seq, hash)) = super::head(conn).await? else { return Ok(None) };
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_heads").fetch_one(&mut *conn).await?;
    if last.is_some_and(|l| l >= seq) {
        return Ok(None);
    }
    let signed_at = timestamp(chrono::Utc::now());
    let signature = signer.sign(Head::statement(seq, &hash, &signed_at).as_bytes());
    let head = Head { seq, hash, signed_at, public_key: signer.public_hex().to_string(), signature };
    sqlx::query("INSERT INTO audit_heads (seq, hash, signed_at, public_key, signature) VALUES (?, ?, ?, ?, ?)")
        .bind(head.seq)
        .bind(&head.hash)
        .bind(&head.signed_at)
        .bind(&head.public_key)
        .bind(&head.signature)
        .execute(&mut *conn)
        .await?;
    Ok(Some(head))
}

pub async fn heads(conn: &mut SqliteConnection) -> Result<Vec<Head>, StoreError> {
    let rows: Vec<(i64, String, String, String, String)> =
        sqlx::query_as("SELECT seq, hash, signed_at, public_key, signature FROM audit_heads ORDER BY seq").fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().map(|(seq, hash, signed_at, public_key, signature)| Head { seq, hash, signed_at, public_key, signature }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_signed_verifies_and_a_forged_one_does_not() {
        let (signer, seed) = Signer::generate();
        assert_eq!(Signer::from_seed_hex(&seed).unwrap().public_hex(), signer.public_hex(), "the seed gives the same key");
        let statement = Head::statement(42, &"ab".repeat(32), "2026-11-21T10:00:00.000000Z");
        let head = Head { seq: 42, hash: "ab".repeat(32), signed_at: "2026-11-21T10:00:00.000000Z".into(), public_key: signer.public_hex().into(), signature: signer.sign(statement.as_bytes()) };
        assert!(head.signature_valid(signer.public_hex()));
        let (other, _) = Signer::generate();
        assert!(!head.signature_valid(other.public_hex()), "another key's public half");
        let moved = Head { seq: 43, ..head.clone() };
        assert!(!moved.signature_valid(signer.public_hex()), "the signature covers the sequence number");
        let forged = Head { signature: other.sign(statement.as_bytes()), ..head.clone() };
        assert!(!forged.signature_valid(signer.public_hex()), "signed with another key");
        assert!(!Head { signature: "zz".into(), ..head }.signature_valid(signer.public_hex()));
        assert!(matches!(Signer::from_seed_hex("abc"), Err(KeyError::Malformed)));
    }
}
