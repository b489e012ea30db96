//! The signature on every webhook POST: `X-Switchyard-Signature: t=<unix seconds>,v1=<hex>`,
//! where v1 is HMAC-SHA256(secret, "<t>.<body>"). The timestamp is inside the MAC, so a
//! receiver can refuse an old request replayed by someone who captured it.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("malformed X-Switchyard-Signature header: expected t=<unix seconds>,v1=<64 hex digits>")]
    Malformed,
    #[error("the signature does not match the body: the secret differs or the body was changed (verify the raw bytes received, before any JSON parsing)")]
    Mismatch,
    #[error("the signature was made {age} s from now, beyond the {tolerance} s allowed: a replayed request, or a clock that is off")]
    Stale { age: i64, tolerance: u64 },
}

/// The header value for `body` signed at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&digest))
}

/// Checks a received header against the raw body: the MAC (compared in constant time) and that
/// `t` is within `tolerance` of `now` (unix seconds), either way. Several `v1` values are
/// accepted (one matching is enough), so a sender can sign with an old and a new secret.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64, tolerance: Duration) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) => signatures.push(unhex(v).ok_or(SignatureError::Malformed)?),
            // Other schemes a later version may add are skipped, not refused.
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if !signatures.iter().any(|s| mac(secret, timestamp, body).verify_slice(s).is_ok()) {
        return Err(SignatureError::Mismatch);
    }
    let age = now.saturating_sub(timestamp);
    if age.unsigned_abs() > tolerance.as_secs() {
        return Err(SignatureError::Stale { age, tolerance: tolerance.as_secs() });
    }
    Ok(())
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (long ones are hashed), so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_0123456789";
    const BODY: &[u8] = br#"{"id":1,"type":"message.triaged"}"#;
    const T: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const MINUTES_5: Duration = Duration::from_secs(300);

    #[test]
    fn matches_a_vector_computed_independently() {
        // printf '%s' '1767225600.{"id":1,"type":"message.triaged"}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789'
        // (python3: hmac.new(b'whsec_test_0123456789', b'1767225600.{"id":1,...}', hashlib.sha256).hexdigest() agrees)
        assert_eq!(sign(SECRET, T, BODY), "t=1767225600,v1=c88798e20ab5e0d5696ee738a5a640ea80c506f00768d97d92054ab96b8ae3d3");
    }

    #[test]
    fn a_good_signature_verifies_within_the_tolerance_either_way() {
        let header = sign(SECRET, T, BODY);
        assert_eq!(verify(SECRET, &header, BODY, T, MINUTES_5), Ok(()));
        assert_eq!(verify(SECRET, &header, BODY, T + 300, MINUTES_5), Ok(()));
        assert_eq!(verify(SECRET, &header, BODY, T - 300, MINUTES_5), Ok(()), "a receiver whose clock is behind");
        // Spaces after commas and an unknown scheme beside v1 are tolerated.
        let spaced = header.replace(',', ", ") + ", v0=zz";
        assert_eq!(verify(SECRET, &spaced, BODY, T, MINUTES_5), Ok(()));
    }

    #[test]
    fn wrong_secret_changed_body_or_old_timestamp_are_refused() {
        let header = sign(SECRET, T, BODY);
        assert_eq!(verify(b"another secret", &header, BODY, T, MINUTES_5), Err(SignatureError::Mismatch));
        let changed = br#"{"id":2,"type":"message.triaged"}"#;
        assert_eq!(verify(SECRET, &header, changed, T, MINUTES_5), Err(SignatureError::Mismatch));
        assert_eq!(verify(SECRET, &header, BODY, T + 301, MINUTES_5), Err(SignatureError::Stale { age: 301, tolerance: 300 }));
        assert_eq!(verify(SECRET, &header, BODY, T - 301, MINUTES_5), Err(SignatureError::Stale { age: -301, tolerance: 300 }));
        // Moving the timestamp to make an old request look fresh breaks the MAC.
        let moved = header.replace(&T.to_string(), &(T + 3600).to_string());
        assert_eq!(verify(SECRET, &moved, BODY, T + 3600, MINUTES_5), Err(SignatureError::Mismatch));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in ["", "v1=00", "t=1767225600", "t=soon,v1=00", "t=1767225600,v1=0g", "t=1767225600,v1=abc", "garbage"] {
            assert_eq!(verify(SECRET, header, BODY, T, MINUTES_5), Err(SignatureError::Malformed), "{header}");
        }
    }
}
