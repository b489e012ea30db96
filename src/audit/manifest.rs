//! The manifest of an audit export (`manifest.json`): what was exported and how to check it —
//! the range and filters, the count, the hashes at both ends, the signed heads that pin the
//! entries, the SHA-256 of each data file — signed as a whole with the audit key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sign::{self, Head, Signer};

/// Bumped when a field changes meaning; verifiers refuse versions they do not know.
pub const FORMAT_VERSION: u32 = 1;

/// What the manifest says it is, so a stray JSON file is not mistaken for one.
pub const KIND: &str = "switchyard audit export";

pub const FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub kind: String,
    pub format_version: u32,
    pub created_at: String,
    pub range: Range,
    pub filters: Filters,
    /// `jsonl` or `csv`.
    pub format: String,
    pub count: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// Every entry from `first_seq` to `last_seq` is in the file: the chain can be walked.
    pub contiguous: bool,
    /// The hash before the first entry (its `prev_hash`).
    pub start_hash: Option<String>,
    /// The hash of the last entry.
    pub end_hash: Option<String>,
    /// Signed heads with a seq from `first_seq` to `last_seq`, and the first one after.
    pub heads: Vec<Head>,
    /// The public half of the key that signed this manifest (hex).
    pub public_key: String,
    pub files: BTreeMap<String, FileDigest>,
    /// Ed25519 over [`Manifest::canonical`], hex. Absent only while the manifest is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Inclusive, UTC, in the trail's own time format (so text order is time order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub from: String,
    pub to: String,
}

/// The filters the export was made with. A customer or an address is named by its pseudonym,
/// never in clear: the export is meant to leave the building.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    pub customer_pseudonym: Option<String>,
    pub email_pseudonym: Option<String>,
    pub mailbox: Option<String>,
    pub intent: Option<String>,
    pub decision: Option<String>,
    pub actor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{FILE} is not a manifest: {0}")]
    Malformed(String),
    #[error("{FILE} is version {0} of the export format; this switchyard reads version {FORMAT_VERSION}: verify with a newer switchyard")]
    Version(u32),
}

impl Manifest {
    /// Signs the manifest as it stands (without its signature field).
    pub fn sign(&mut self, signer: &Signer) {
        self.signature = None;
        let text = canonical(&serde_json::to_value(&*self).expect("a manifest is plain data"));
        self.signature = Some(signer.sign(text.as_bytes()));
    }

    /// Parses `manifest.json`, keeping the text as parsed so the signature is checked over
    /// every field the file holds, known to this version or not.
    pub fn parse(text: &str) -> Result<(Self, serde_json::Value), ManifestError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if value.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
            return Err(ManifestError::Malformed(format!("its \"kind\" is not \"{KIND}\"")));
        }
        let version = value.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(FORMAT_VERSION) {
            return Err(ManifestError::Version(u32::try_from(version).unwrap_or(u32::MAX)));
        }
        let manifest = serde_json::from_value(value.clone()).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        Ok((manifest, value))
    }
}

/// Whether the manifest as parsed (`value`) carries a valid signature by `public_key`.
pub fn signature_valid(value: &serde_json::Value, public_key: &str) -> bool {
    let Some(signature) = value.get("signature").and_then(|s| s.as_str()) else { return false };
    let mut unsigned = value.clone();
    if let Some(map) = unsigned.as_object_mut() {
        map.remove("signature");
    }
    sign::verify_signature(public_key, canonical(&unsigned).as_bytes(), signature)
}

/// The bytes signed: JSON with the keys of every object sorted, no whitespace, strings and
/// numbers as serde_json writes them. For the plain ASCII a manifest holds this is what
/// `jq -cjS 'del(.signature)'` prints, so a reviewer can check the signature with other tools.
pub fn canonical(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            kind: KIND.into(),
            format_version: FORMAT_VERSION,
            created_at: "2026-11-21T10:00:00.000000Z".into(),
            range: Range { from: "2026-11-20T00:00:00.000000Z".into(), to: "2026-11-20T23:59:59.999999Z".into() },
            filters: Filters { intent: Some("billing".into()), ..Filters::default() },
            format: "jsonl".into(),
            count: 2,
            first_seq: Some(4),
            last_seq: Some(5),
            contiguous: true,
            start_hash: Some("a".repeat(64)),
            end_hash: Some("b".repeat(64)),
            heads: vec![],
            public_key: String::new(),
            files: BTreeMap::from([("entries.jsonl".to_string(), FileDigest { sha256: "c".repeat(64), bytes: 10 })]),
            signature: None,
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = serde_json::json!({"b": 1, "a": {"z": [true, null, "x\"y"], "c": "é"}});
        assert_eq!(canonical(&v), r#"{"a":{"c":"é","z":[true,null,"x\"y"]},"b":1}"#);
    }

    #[test]
    fn a_signed_manifest_verifies_until_a_field_changes_or_another_key_signs() {
        let (signer, _) = Signer::generate();
        let mut m = manifest();
        m.public_key = signer.public_hex().into();
        m.sign(&signer);
        let text = serde_json::to_string_pretty(&m).unwrap();
        let (parsed, value) = Manifest::parse(&text).unwrap();
        assert_eq!(parsed, m);
        assert!(signature_valid(&value, signer.public_hex()));

        let changed = text.replace("\"count\": 2", "\"count\": 3");
        assert!(!signature_valid(&Manifest::parse(&changed).unwrap().1, signer.public_hex()), "a changed count");
        let added = text.replacen('{', "{\n  \"note\": \"trust me\",", 1);
        assert!(!signature_valid(&Manifest::parse(&added).unwrap().1, signer.public_hex()), "a field this version does not know");

        let (other, _) = Signer::generate();
        let mut forged = m.clone();
        forged.sign(&other);
        let value = serde_json::to_value(&forged).unwrap();
        assert!(!signature_valid(&value, signer.public_hex()), "signed by another key");
        assert!(signature_valid(&value, other.public_hex()));
    }

    #[test]
    fn other_files_and_versions_are_refused() {
        assert!(matches!(Manifest::parse("{}"), Err(ManifestError::Malformed(_))));
        assert!(matches!(Manifest::parse("not json"), Err(ManifestError::Malformed(_))));
        let v2 = serde_json::json!({"kind": KIND, "format_version": 2});
        assert!(matches!(Manifest::parse(&v2.to_string()), Err(ManifestError::Version(2))));
    }
}
